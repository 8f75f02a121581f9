/**
 * Reads the sticky comment as the conversation's earlier runs left it, so that a resumed run (or
 * the publish action after one) appends a follow-up section instead of replacing it. For
 * `publish: comment` (or `auto` on a pull request); `publish: review` only names the run it
 * continues. Best effort: a failure is a warning and the comment is replaced as on any run.
 */
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import { createGitHubClient } from '../github/client.js'
import {
  contextFromEnv,
  issueNumber,
  pullRequestNumber,
  resolvePublishMode
} from '../github/context.js'
import { findStickyComment } from '../github/sticky-comment.js'
import { stickyMarker } from '../report/comment.js'
import type { PublishMode } from '../settings.js'
import { earlierPart, type CommentThread } from './thread.js'

export async function readCommentThread(
  publish: { mode: PublishMode; githubToken?: string },
  resumedFrom: { runId: string; runUrl?: string },
  env: NodeJS.ProcessEnv = process.env
): Promise<CommentThread | undefined> {
  const token = publish.githubToken
  if (!token || publish.mode === 'patch') return undefined
  try {
    const context = contextFromEnv(env)
    const number = issueNumber(context)
    const mode = resolvePublishMode(publish.mode, context)
    // A review names the run it continues; it keeps nothing of the earlier one's body.
    if (mode === 'review') return { earlier: '', resumedFrom }
    if (number === undefined || mode !== 'comment') return undefined
    const client = createGitHubClient({ token, baseUrl: context.apiUrl, retries: 1 })
    const marker = stickyMarker(context.workflow, context.job)
    const found = await findStickyComment(
      client,
      { owner: context.owner, repo: context.repo },
      number,
      marker,
      pullRequestNumber(context) !== undefined
    )
    return { earlier: found?.body ? earlierPart(found.body, marker) : '', resumedFrom }
  } catch (error: unknown) {
    core.warning(`Could not read the earlier comment of this conversation: ${errorMessage(error)}`)
    return undefined
  }
}

/**
 * The publish action's `resumed-from` input (the agent job's output): the thread to keep, when
 * the run resumed. The earlier run's page is derived from the runner's environment.
 */
export async function publishThread(
  resumedFrom: string,
  publish: { mode: PublishMode; githubToken?: string },
  env: NodeJS.ProcessEnv = process.env
): Promise<CommentThread | undefined> {
  const runId = resumedFrom.trim()
  if (runId === '') return undefined
  if (!/^\d{1,20}$/.test(runId)) {
    core.warning(
      `Input \`resumed-from\` must be a workflow run id, got "${runId.slice(0, 40)}"; ignored`
    )
    return undefined
  }
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const runUrl = env.GITHUB_REPOSITORY
    ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}`
    : undefined
  return readCommentThread(publish, { runId, ...(runUrl ? { runUrl } : {}) }, env)
}
