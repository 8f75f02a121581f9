import type { StagedPatch } from '../../git/patch.js'
import { renderComment, stickyMarker } from '../../report/comment.js'
import type { GitHubClient } from '../client.js'
import { issueNumber, pullRequestNumber } from '../context.js'
import { branchHead } from '../git-data.js'
import { defaultBaseBranch } from '../pull-request.js'
import type { Staging } from '../publish-stage.js'
import type { PublishResult } from '../publish-types.js'
import { upsertStickyComment } from '../sticky-comment.js'
import { ConfigurationError } from '../../errors.js'
import { followUpLimit, threadedBody } from '../../continuation/thread.js'
import { pullRequestOf, reportFields, type Publisher, type Target } from './publisher.js'

/** publish: comment — one sticky comment on the pull request or issue, edited on reruns. */

export interface CommentTarget extends Target {
  number: number
  /** Shown under the header (why a commit became a comment, say). */
  notes: string[]
}

export const commentPublisher: Publisher<CommentTarget> = {
  async target(client, s) {
    const { context } = s.request
    const number = issueNumber(context)
    if (number === undefined) {
      const warning = `publish: comment needs a pull request or issue to comment on, and the ${context.eventName || 'current'} event has none; only the patch was written`
      s.log.warning(warning)
      return {
        kind: 'done',
        result: {
          mode: 'patch',
          message: 'Wrote the patch only (nothing to comment on)',
          warnings: [...s.warnings, warning]
        }
      }
    }
    return {
      kind: 'target',
      target: {
        number,
        notes: [],
        base: () => commentBase(client, s),
        baseLabel: 'the pull request head'
      }
    }
  },

  async publish(client, s, target, staged) {
    return postComment(client, s, target, staged)
  }
}

export async function postComment(
  client: GitHubClient,
  s: Staging,
  target: CommentTarget,
  staged: StagedPatch
): Promise<PublishResult> {
  const { context } = s.request
  const patch = staged.files.length > 0 ? s.patchText : ''
  const marker = stickyMarker(context.workflow, context.job)
  const thread = s.request.report.thread
  const rendered = renderComment(
    { ...reportFields(s, staged), marker, patch, notes: target.notes },
    followUpLimit(thread)
  )
  const body = thread ? threadedBody(marker, thread, rendered.slice(marker.length)) : rendered
  const onPullRequest = pullRequestNumber(context) !== undefined
  const comment = await upsertStickyComment(
    client,
    s.repo,
    target.number,
    marker,
    body,
    onPullRequest
  )
  s.log.info(`${comment.created ? 'Created' : 'Updated'} the comment ${comment.url}`)
  return {
    mode: 'comment',
    commentUrl: comment.url,
    message: `${comment.created ? 'Posted' : 'Updated'} the comment on #${target.number}`,
    warnings: s.warnings
  }
}

/** What a comment's patch is staged against without a checkout: the PR head, else the default branch. */
async function commentBase(client: GitHubClient, s: Staging): Promise<string> {
  const pr = await pullRequestOf(client, s)
  if (pr?.headSha) return pr.headSha
  const branch = await defaultBaseBranch(client, s.repo, s.request.context)
  const head = await branchHead(client, s.repo, branch)
  if (!head) throw new ConfigurationError(`The default branch \`${branch}\` does not exist`)
  return head
}
