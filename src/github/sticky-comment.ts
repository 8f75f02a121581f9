import { isStickyComment } from '../report/comment.js'
import { attempt, type GitHubClient } from './client.js'
import type { RepoId } from './git-data.js'

/**
 * One comment per workflow and job on an issue or pull request, found again by the hidden
 * marker it starts with and edited in place on every rerun, so reruns do not pile up comments.
 */

export interface StickyCommentResult {
  url: string
  id: number
  created: boolean
}

/** What a GITHUB_TOKEN needs to comment: on a pull request, `pull-requests`; on an issue, `issues`. */
function permissionsFor(onPullRequest: boolean, access: 'read' | 'write'): string[] {
  return [onPullRequest ? `pull-requests: ${access}` : `issues: ${access}`]
}

/** The oldest comment on the thread that starts with `marker`. */
export async function findStickyComment(
  client: GitHubClient,
  repo: RepoId,
  issueNumber: number,
  marker: string,
  onPullRequest = true
): Promise<{ id: number; url: string; body?: string } | undefined> {
  return attempt(
    {
      what: `list the comments of #${issueNumber}`,
      permissions: permissionsFor(onPullRequest, 'read')
    },
    async () => {
      const pages = client.paginate.iterator(client.rest.issues.listComments, {
        ...repo,
        issue_number: issueNumber,
        per_page: 100
      })
      for await (const page of pages) {
        // Only a body that starts with the marker counts: quoting it (or an agent printing it
        // inside a diff) cannot make another comment look like ours.
        const found = page.data.find(comment => isStickyComment(comment.body, marker))
        if (found) return { id: found.id, url: found.html_url, body: found.body ?? undefined }
      }
      return undefined
    }
  )
}

export async function upsertStickyComment(
  client: GitHubClient,
  repo: RepoId,
  issueNumber: number,
  marker: string,
  body: string,
  onPullRequest = true
): Promise<StickyCommentResult> {
  if (!isStickyComment(body, marker))
    throw new Error('a sticky comment body must start with its marker')
  const permissions = permissionsFor(onPullRequest, 'write')
  const existing = await findStickyComment(client, repo, issueNumber, marker, onPullRequest)
  if (existing) {
    const response = await attempt(
      { what: `update the comment on #${issueNumber}`, permissions },
      () => client.rest.issues.updateComment({ ...repo, comment_id: existing.id, body })
    )
    return { url: response.data.html_url, id: response.data.id, created: false }
  }
  const response = await attempt(
    { what: `create the comment on #${issueNumber}`, permissions },
    () => client.rest.issues.createComment({ ...repo, issue_number: issueNumber, body })
  )
  return { url: response.data.html_url, id: response.data.id, created: true }
}
