import { attempt, explainRequestError, isHttpError, type GitHubClient } from './client.js'
import type { RepoId } from './git-data.js'
import { suggestionBody, type PullRequestFile, type Suggestion } from './suggestions.js'

/**
 * The review requests: the pull request's files (its diff, which decides where suggestions may
 * go), one COMMENT review with its suggestions, and the retirement of the previous run's review.
 */

const READ = ['pull-requests: read']
const WRITE = ['pull-requests: write']

export async function listPullRequestFiles(
  client: GitHubClient,
  repo: RepoId,
  number: number
): Promise<PullRequestFile[]> {
  return attempt(
    { what: `list the files of pull request #${number}`, permissions: READ },
    async () => {
      const files = await client.paginate(client.rest.pulls.listFiles, {
        ...repo,
        pull_number: number,
        per_page: 100
      })
      return files.map(f => ({
        filename: f.filename,
        status: f.status,
        ...(f.sha ? { sha: f.sha } : {}),
        ...(f.patch === undefined ? {} : { patch: f.patch })
      }))
    }
  )
}

export interface PostedReview {
  id: number
  url: string
  /** Who posted it: only this user's earlier reviews are retired. */
  login: string
}

/** The review comment for a suggestion: multi-line when it spans lines, always the head side. */
export function reviewComment(s: Suggestion): {
  path: string
  body: string
  line: number
  side: 'RIGHT'
  start_line?: number
  start_side?: 'RIGHT'
} {
  return {
    path: s.path,
    body: suggestionBody(s),
    line: s.line,
    side: 'RIGHT',
    ...(s.startLine < s.line ? { start_line: s.startLine, start_side: 'RIGHT' as const } : {})
  }
}

export async function createReview(
  client: GitHubClient,
  repo: RepoId,
  number: number,
  commitId: string,
  body: string,
  suggestions: readonly Suggestion[]
): Promise<PostedReview> {
  const response = await attempt(
    { what: `post the review on pull request #${number}`, permissions: WRITE },
    () =>
      client.rest.pulls.createReview({
        ...repo,
        pull_number: number,
        commit_id: commitId,
        event: 'COMMENT',
        body,
        ...(suggestions.length > 0 ? { comments: suggestions.map(reviewComment) } : {})
      })
  )
  return {
    id: response.data.id,
    url: response.data.html_url,
    login: response.data.user?.login ?? ''
  }
}

/**
 * Retires this workflow and job's earlier reviews on the pull request: their suggestions are
 * deleted (a stale suggestion applied on a newer head would be wrong, and GitHub offers no other
 * way to take one back from a COMMENT review: dismissal is only for approvals and change
 * requests) and their body is replaced by a line pointing at the new review. Returns how many
 * reviews were retired.
 */
export async function retireReviews(
  client: GitHubClient,
  repo: RepoId,
  number: number,
  options: { marker: string; retiredMarker: string; keep: PostedReview }
): Promise<{ reviews: number; comments: number }> {
  const reviews = await attempt(
    { what: `list the reviews of pull request #${number}`, permissions: READ },
    () =>
      client.paginate(client.rest.pulls.listReviews, {
        ...repo,
        pull_number: number,
        per_page: 100
      })
  )
  let retired = 0
  let deleted = 0
  for (const review of reviews) {
    if (review.id === options.keep.id) continue
    if (!review.body?.startsWith(options.marker)) continue
    // A review someone else wrote starting with our marker is not ours to edit.
    if (options.keep.login && review.user?.login !== options.keep.login) continue
    const comments = await attempt(
      { what: `list the comments of review ${review.id}`, permissions: READ },
      () =>
        client.paginate(client.rest.pulls.listCommentsForReview, {
          ...repo,
          pull_number: number,
          review_id: review.id,
          per_page: 100
        })
    )
    for (const comment of comments) {
      try {
        await client.rest.pulls.deleteReviewComment({ ...repo, comment_id: comment.id })
        deleted++
      } catch (error: unknown) {
        // Already gone (deleted by hand, or by a concurrent run): nothing left to retire.
        if (isHttpError(error) && error.status === 404) continue
        throw explainRequestError(error, {
          what: `delete an old suggestion (comment ${comment.id})`,
          permissions: WRITE
        })
      }
    }
    await attempt({ what: `update the old review ${review.id}`, permissions: WRITE }, () =>
      client.rest.pulls.updateReview({
        ...repo,
        pull_number: number,
        review_id: review.id,
        body: `${options.retiredMarker}\n_These suggestions were replaced by a newer run: ${options.keep.url}_\n`
      })
    )
    retired++
  }
  return { reviews: retired, comments: deleted }
}
