import { ConfigurationError } from '../errors.js'
import { createGitHubClient, type GitHubClient } from './client.js'
import type { ResolvedPublishMode } from './context.js'
import { commentPublisher } from './modes/comment.js'
import { commitPublisher } from './modes/commit.js'
import type { Publisher, Target } from './modes/publisher.js'
import { pullRequestPublisher } from './modes/pull-request.js'
import { reviewPublisher } from './modes/review.js'
import { screenSecrets } from './secret-screen.js'
import { enforcePolicy, stage, stageOnto, type Staging } from './publish-stage.js'
import type { PublishRequest, PublishResult } from './publish-types.js'

export { resolvePublishMode } from './context.js'
export type { PublishRequest, PublishResult, RunReport } from './publish-types.js'

/**
 * Publishes a patch the agent produced, in three steps: stage it, apply the path policy, and
 * hand it to the mode's publisher (a sticky comment, a commit on the pull request's branch, a
 * pull request, or a review of suggested changes; patch publishes nothing). A policy violation
 * publishes nothing: with a checkout it is found before any request to GitHub; without one (the
 * reusable workflow's publish job) the files the patch touches are read from GitHub once the
 * mode has said what it publishes onto, and the policy is applied again before anything is
 * written.
 */

const PUBLISHERS: Record<Exclude<ResolvedPublishMode, 'patch'>, Publisher<Target>> = {
  comment: commentPublisher as Publisher<Target>,
  commit: commitPublisher as Publisher<Target>,
  'pull-request': pullRequestPublisher as Publisher<Target>,
  review: reviewPublisher as Publisher<Target>
}

export async function publish(request: PublishRequest): Promise<PublishResult> {
  const staging = await stage(request)
  const refused = enforcePolicy(staging)
  if (refused) return refused
  screenSecrets(staging)
  if (request.mode === 'patch') {
    return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [] }
  }
  const client = clientFor(request)
  try {
    return await publishWith(client, staging, PUBLISHERS[request.mode], [])
  } finally {
    for (const dispose of staging.cleanup) await dispose()
  }
}

async function publishWith(
  client: GitHubClient,
  staging: Staging,
  publisher: Publisher<Target>,
  notes: string[]
): Promise<PublishResult> {
  const outcome = await publisher.target(client, staging)
  if (outcome.kind === 'done') return outcome.result
  if (outcome.kind === 'comment-instead') {
    staging.log.warning(outcome.note)
    staging.warnings.push(outcome.note)
    return publishWith(client, staging, PUBLISHERS.comment, [...notes, outcome.note])
  }
  const target = outcome.target
  if ('notes' in target && Array.isArray(target.notes)) target.notes.push(...notes)
  const staged = await stageOnto(client, staging, () => target.base(), target.baseLabel)
  return publisher.publish(client, staging, target, staged)
}

function clientFor(request: PublishRequest): GitHubClient {
  const token = request.settings.githubToken
  if (!token) {
    throw new ConfigurationError(
      `\`github-token\` is empty, and publish: ${request.mode} needs it`,
      'Pass `github-token: ${{ github.token }}` (the default) or a token with the permissions listed in the README'
    )
  }
  return createGitHubClient({
    ...request.client,
    token,
    baseUrl: request.context.apiUrl,
    log: request.log ?? { info: () => undefined, warning: () => undefined }
  })
}
