import { ConfigurationError } from '../errors.js'
import { attempt, type GitHubClient } from './client.js'
import type { PublishContext } from './context.js'
import { branchHead, type RepoId } from './git-data.js'

/** The branch pull-request mode uses unless `branch` says otherwise: one per workflow and job. */
export function defaultBranchName(context: Pick<PublishContext, 'workflow' | 'job'>): string {
  const slug = (text: string): string =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/\.{2,}/g, '.')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 50) || 'run'
  return `claude-sandbox/${slug(context.workflow)}-${slug(context.job)}`
}

/** git check-ref-format's rules for a branch name, checked before GitHub is asked. */
export function validateBranchName(name: string, input: string): void {
  const bad =
    name === '' ||
    name.startsWith('-') ||
    name.startsWith('/') ||
    name.endsWith('/') ||
    name.endsWith('.') ||
    name.endsWith('.lock') ||
    name.includes('..') ||
    name.includes('//') ||
    name.includes('@{') ||
    name.split('/').some(part => part.startsWith('.')) ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(name)
  if (bad) {
    throw new ConfigurationError(
      `\`${input}\` is not a valid branch name: ${JSON.stringify(name)}`,
      'Use letters, digits, "-", "_", "." and "/"'
    )
  }
}

export async function defaultBaseBranch(
  client: GitHubClient,
  repo: RepoId,
  context: PublishContext
): Promise<string> {
  const repository = context.payload.repository as { default_branch?: unknown } | undefined
  if (typeof repository?.default_branch === 'string' && repository.default_branch !== '') {
    return repository.default_branch
  }
  const response = await attempt(
    { what: 'read the repository', permissions: ['contents: read'] },
    () => client.rest.repos.get({ ...repo })
  )
  return response.data.default_branch
}

/**
 * Points `branch` at `commit`, creating it if needed. The branch belongs to this workflow and
 * job (it is derived from their names, or named by the user for this purpose), so it is reset
 * rather than fast-forwarded: each run proposes the change on top of the current base, and a
 * scheduled rerun replaces its previous proposal instead of stacking onto an outdated one.
 */
export async function resetBranch(
  client: GitHubClient,
  repo: RepoId,
  branch: string,
  commit: string
): Promise<'created' | 'reset'> {
  const op = { what: `push the branch ${branch}`, permissions: ['contents: write'] }
  const current = await attempt(op, () => branchHead(client, repo, branch))
  if (current === undefined) {
    await attempt(op, () =>
      client.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha: commit })
    )
    return 'created'
  }
  await attempt(op, () =>
    client.rest.git.updateRef({ ...repo, ref: `heads/${branch}`, sha: commit, force: true })
  )
  return 'reset'
}

export interface PullRequestSpec {
  branch: string
  base: string
  title: string
  body: string
  draft: boolean
  labels: string[]
}

export interface PullRequestResult {
  number: number
  url: string
  created: boolean
}

/** Opens a pull request from `branch`, or updates the open one, so reruns keep a single PR. */
export async function openOrUpdatePullRequest(
  client: GitHubClient,
  repo: RepoId,
  spec: PullRequestSpec
): Promise<PullRequestResult> {
  const read = { what: 'list open pull requests', permissions: ['pull-requests: read'] }
  const write = {
    what: `open a pull request from ${spec.branch}`,
    permissions: ['pull-requests: write']
  }
  const open = await attempt(read, () =>
    client.rest.pulls.list({
      ...repo,
      head: `${repo.owner}:${spec.branch}`,
      state: 'open',
      per_page: 10
    })
  )
  const existing = open.data[0]
  let result: PullRequestResult
  if (existing) {
    const response = await attempt(
      { what: `update pull request #${existing.number}`, permissions: ['pull-requests: write'] },
      () =>
        client.rest.pulls.update({
          ...repo,
          pull_number: existing.number,
          title: spec.title,
          body: spec.body,
          ...(existing.base.ref !== spec.base ? { base: spec.base } : {})
        })
    )
    result = { number: response.data.number, url: response.data.html_url, created: false }
  } else {
    const response = await attempt(write, () =>
      client.rest.pulls.create({
        ...repo,
        head: spec.branch,
        base: spec.base,
        title: spec.title,
        body: spec.body,
        draft: spec.draft
      })
    )
    result = { number: response.data.number, url: response.data.html_url, created: true }
  }
  if (spec.labels.length > 0) {
    await attempt(
      { what: `label pull request #${result.number}`, permissions: ['pull-requests: write'] },
      () =>
        client.rest.issues.addLabels({ ...repo, issue_number: result.number, labels: spec.labels })
    )
  }
  return result
}
