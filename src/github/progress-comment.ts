import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import { neutralizeMarkdown, stickyMarker } from '../report/comment.js'
import type { Settings } from '../settings.js'
import {
  contextFromEnv,
  issueNumber,
  pullRequestNumber,
  resolvePublishMode,
  runUrl,
  type PublishContext
} from './context.js'
import { upsertStickyComment } from './sticky-comment.js'
import { threadedBody, type CommentThread } from '../continuation/thread.js'

/**
 * With `publish: comment` (or `auto` on a pull request), the sticky comment says "working…" with
 * a link to the live log as soon as the run starts, and the result replaces it at the end (the
 * same hidden marker, so publishing edits this very comment). When the run fails before its
 * result is published, `fail` replaces it with the reason, so no comment is left saying
 * "working…" forever. Both are best effort: a comment that cannot be posted is a warning.
 */
export interface ProgressComment {
  /** Replaces "working…" with why the run ended without a published result. */
  fail(error: unknown): Promise<void>
}

export async function postProgressComment(
  settings: Settings,
  env: NodeJS.ProcessEnv = process.env,
  /** A resumed run keeps the earlier runs' part of the comment (src/continuation/thread.ts). */
  thread?: CommentThread
): Promise<ProgressComment | undefined> {
  const token = settings.publish.githubToken
  if (!token || settings.publish.mode === 'patch') return undefined
  let context: PublishContext
  try {
    context = contextFromEnv(env)
  } catch {
    return undefined
  }
  const number = issueNumber(context)
  if (number === undefined || resolvePublishMode(settings.publish.mode, context) !== 'comment') {
    return undefined
  }
  // Loaded only when there is a comment to post: the client is a measurable part of the start.
  const { createGitHubClient } = await import('./client.js')
  const client = createGitHubClient({ token, baseUrl: context.apiUrl, retries: 1 })
  const repo = { owner: context.owner, repo: context.repo }
  const marker = stickyMarker(context.workflow, context.job)
  const onPullRequest = pullRequestNumber(context) !== undefined
  const post = (body: string): Promise<unknown> =>
    upsertStickyComment(
      client,
      repo,
      number,
      marker,
      thread ? threadedBody(marker, thread, body) : `${marker}\n${body}`,
      onPullRequest
    )
  const live = `[the workflow run](${runUrl(context)})`
  try {
    await post(
      `### ⏳ Claude Code is working…\n\nFollow it live in ${live}. This comment is replaced with the result when the run ends.\n`
    )
  } catch (error: unknown) {
    core.warning(`Could not post the "working…" comment: ${errorMessage(error)}`)
    return undefined
  }
  return {
    async fail(error: unknown): Promise<void> {
      try {
        await post(
          `### ❌ Claude Code did not finish\n\n${neutralizeMarkdown(errorMessage(error).slice(0, 2000))}\n\nSee ${live}.\n`
        )
      } catch (postError: unknown) {
        core.warning(`Could not update the "working…" comment: ${errorMessage(postError)}`)
      }
    }
  }
}
