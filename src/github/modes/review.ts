import path from 'node:path'
import { stickyMarker } from '../../report/comment.js'
import { isHttpError } from '../client.js'
import { pullRequestNumber, reviewNeedsPullRequest, runUrl } from '../context.js'
import { createReview, listPullRequestFiles, retireReviews } from '../review-api.js'
import { renderReviewBody } from '../review-body.js'
import { planReview, wholeFiles, type ReviewPlan } from '../suggestions.js'
import { pullRequestOf, type Publisher, type Target } from './publisher.js'
import { followUpNote } from '../../continuation/thread.js'

/**
 * publish: review — one pull request review (event COMMENT) whose comments are suggested changes
 * on the lines of the pull request's diff, with the rest of the change as diffs in its body.
 * A rerun posts a new review and retires the previous one (its suggestions deleted, its body
 * pointing at the new review), so one review with suggestions stays active.
 */

export interface ReviewTarget extends Target {
  number: number
  /** The head the agent's checkout was at: the suggestions' line numbers refer to it. */
  expected: string
  /** The pull request's head now. */
  current: string
}

/** The marker of the active review of a workflow and job, and the one a retired review gets. */
export function reviewMarkers(workflow: string, job: string): { active: string; retired: string } {
  const sticky = stickyMarker(workflow, job)
  return {
    active: sticky.replace('<!-- claude-sandbox:', '<!-- claude-sandbox-review:'),
    retired: sticky.replace('<!-- claude-sandbox:', '<!-- claude-sandbox-review-retired:')
  }
}

export const reviewPublisher: Publisher<ReviewTarget> = {
  async target(client, s) {
    const { context } = s.request
    const number = pullRequestNumber(context)
    if (number === undefined) throw reviewNeedsPullRequest(context.eventName)
    const pr = await pullRequestOf(client, s, true)
    const current = pr?.headSha ?? ''
    const payloadHead = (context.payload.pull_request as { head?: { sha?: string } } | undefined)
      ?.head?.sha
    const expected = payloadHead ?? s.checkoutHead ?? current
    return {
      kind: 'target',
      target: {
        number,
        expected,
        current,
        base: () => Promise.resolve(expected),
        baseLabel: 'the pull request head'
      }
    }
  },

  async publish(client, s, target, staged) {
    const { context, report } = s.request
    const { number, expected, current } = target
    const notes: string[] = report.thread ? [followUpNote(report.thread)] : []
    let plan: ReviewPlan
    if (staged.files.length === 0) {
      plan = { suggestions: [], body: [] }
    } else if (report.conclusion !== 'success') {
      notes.push(
        `The agent did not succeed (${report.conclusion || 'no verdict'}), so its partial change is shown here as a diff, not offered as suggestions.`
      )
      plan = wholeFiles(s.patchText)
    } else {
      plan = planReview(s.patchText, await listPullRequestFiles(client, s.repo, number))
    }
    const markers = reviewMarkers(context.workflow, context.job)
    const render = (p: ReviewPlan, extra: string[]): string =>
      renderReviewBody({
        marker: markers.active,
        conclusion: report.conclusion,
        files: staged.files.length,
        insertions: staged.insertions,
        deletions: staged.deletions,
        runUrl: runUrl(context),
        runId: context.runId,
        repository: `${context.owner}/${context.repo}`,
        patchFileName: path.basename(s.request.patchPath),
        suggestions: p.suggestions.length,
        suggestedFiles: new Set(p.suggestions.map(x => x.path)).size,
        body: p.body,
        notes: [...notes, ...extra],
        ...optional(report)
      })
    // On the head as it is now: the pull request's files (and so the lines suggestions may go
    // on) are read for it, and planReview keeps only files whose blob there is the one the
    // agent's patch was made on.
    const commitId = current || expected
    let posted
    try {
      posted = await createReview(
        client,
        s.repo,
        number,
        commitId,
        render(plan, []),
        plan.suggestions
      )
    } catch (error: unknown) {
      // GitHub judged a line differently than the pull request's files said: keep the result,
      // as a review whose body holds the whole change.
      if (!(isHttpError(error) && error.status === 422 && plan.suggestions.length > 0)) throw error
      const warning = `GitHub refused the suggestions (${error.message}); the change is in the review body instead`
      s.log.warning(warning)
      s.warnings.push(warning)
      plan = wholeFiles(s.patchText)
      posted = await createReview(
        client,
        s.repo,
        number,
        commitId,
        render(plan, [
          'GitHub did not accept these lines as suggestions; the change is shown as a diff.'
        ]),
        []
      )
    }
    const retired = await retireReviews(client, s.repo, number, {
      marker: markers.active,
      retiredMarker: markers.retired,
      keep: posted
    })
    if (retired.reviews > 0) {
      s.log.info(
        `Retired ${retired.reviews} earlier review(s) of this workflow and job (${retired.comments} old suggestion(s) deleted)`
      )
    }
    s.log.info(`Posted the review ${posted.url} with ${plan.suggestions.length} suggestion(s)`)
    return {
      mode: 'review',
      // The review is the pull request's comment of this run: `comment-url` points at it too.
      commentUrl: posted.url,
      reviewUrl: posted.url,
      suggestions: plan.suggestions.length,
      message: `Posted a review on #${number} with ${plan.suggestions.length} suggested change(s)${plan.body.length > 0 ? ` and ${plan.body.length} file diff(s) in its body` : ''}`,
      warnings: s.warnings
    }
  }
}

function optional(report: {
  outcomeMessage?: string
  finalMessage?: string
  numTurns?: number
  durationMs?: number
  costUsd?: number
  artifactName?: string
  artifactUrl?: string
}): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  for (const [key, value] of Object.entries({
    outcomeMessage: report.outcomeMessage,
    finalMessage: report.finalMessage,
    numTurns: report.numTurns,
    durationMs: report.durationMs,
    costUsd: report.costUsd,
    artifactName: report.artifactName,
    artifactUrl: report.artifactUrl
  })) {
    if (value !== undefined) out[key] = value
  }
  return out
}
