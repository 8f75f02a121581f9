import { ConfigurationError } from '../errors.js'
import { createGit } from '../git/git.js'
import type { StagedPatch } from '../git/patch.js'
import { readBlobs } from './blobs.js'
import { attempt, isHttpError, type GitHubClient, type Logger } from './client.js'
import { commitTree, createCommit, listTree, writeTree, type RepoId } from './git-data.js'

/**
 * Turns a staged patch into a commit on top of a given parent, through the API. The parent may
 * differ from the commit the agent worked on (actions/checkout gives a pull_request job the
 * merge commit, a scheduled job may find its base branch moved on): the change is then carried
 * over only if every file it touches is identical in both, so publishing never silently reverts
 * or overwrites someone else's edit to those files.
 */

export interface CommitOntoOptions {
  client: GitHubClient
  repo: RepoId
  workspace: string
  staged: StagedPatch
  parent: string
  message: string
  log?: Logger
  /** How the parent is described in errors, e.g. "the head of `feature`". */
  parentLabel: string
  /** Tuning for tests and the benchmark. */
  batchBytes?: number
}

export interface CommitOntoResult {
  /** undefined when the change is already in the parent (nothing to commit). */
  commit?: string
  tree: string
}

export async function commitOnto(options: CommitOntoOptions): Promise<CommitOntoResult> {
  const { client, repo, staged, parent } = options
  const parentTree = await commitTree(client, repo, parent)
  const localBaseTree = staged.baseCommit
    ? await createGit(options.workspace).text(['rev-parse', `${staged.baseCommit}^{tree}`])
    : undefined
  const sameBase = localBaseTree === parentTree
  if (!sameBase) await requireSameFiles(options, parentTree)

  const { tree } = await writeTree({
    client,
    repo,
    baseTree: parentTree,
    files: staged.files,
    readBlobs: shas => readBlobs(options.workspace, shas),
    ...(options.log ? { log: options.log } : {}),
    ...(options.batchBytes ? { batchBytes: options.batchBytes } : {})
  })
  // Same starting tree, same change: GitHub's result must be the tree git computed locally. A
  // difference means content was altered on the way; stop before any branch points at it.
  if (sameBase && tree !== staged.tree) {
    throw new Error(
      `GitHub built tree ${tree} but the change is tree ${staged.tree} locally; nothing was published`
    )
  }
  if (tree === parentTree) return { tree }
  const commit = await createCommit(client, repo, { message: options.message, tree, parent })
  return { commit, tree }
}

/** Fails unless every path the change touches is the same in `parentTree` as in the checkout. */
async function requireSameFiles(options: CommitOntoOptions, parentTree: string): Promise<void> {
  const entries = await listTree(options.client, options.repo, parentTree)
  const base = options.staged.baseCommit?.slice(0, 12) ?? 'an empty repository'
  if (!entries) {
    throw new ConfigurationError(
      `The checkout (${base}) is not ${options.parentLabel}, and the repository is too large to compare the changed files through the API`,
      'Check out the branch the change is published to (for a pull request: `ref: ${{ github.event.pull_request.head.sha }}` in actions/checkout)'
    )
  }
  const differing: string[] = []
  for (const file of options.staged.files) {
    const expectations: Array<[string, string | undefined]> = []
    if (file.status === 'renamed' && file.oldPath !== undefined) {
      expectations.push([file.oldPath, file.oldSha], [file.path, undefined])
    } else if (file.status === 'copied') {
      expectations.push([file.path, undefined])
    } else {
      expectations.push([file.path, file.status === 'added' ? undefined : file.oldSha])
    }
    for (const [path, sha] of expectations) {
      const entry = entries.get(path)
      if ((entry?.sha ?? undefined) !== sha) differing.push(path)
    }
  }
  if (differing.length > 0) {
    const shown = differing
      .slice(0, 20)
      .map(p => JSON.stringify(p))
      .join(', ')
    const more = differing.length > 20 ? ` and ${differing.length - 20} more` : ''
    throw new ConfigurationError(
      `The checkout (${base}) is not ${options.parentLabel}, and ${differing.length} changed file(s) differ between them: ${shown}${more}; nothing was published`,
      'Rerun the workflow on the current head, or check out the branch the change is published to ' +
        '(for a pull request: `ref: ${{ github.event.pull_request.head.sha }}` in actions/checkout)'
    )
  }
  options.log?.info(
    `The checkout is not ${options.parentLabel}, but every changed file is the same in both`
  )
}

export function branchMovedError(
  branch: string,
  expected: string,
  actual: string | undefined
): ConfigurationError {
  const now = actual ? `is now at ${actual.slice(0, 12)}` : 'no longer exists'
  return new ConfigurationError(
    `The branch moved: \`${branch}\` ${now}, not at ${expected.slice(0, 12)} where this run started; nothing was committed so that the new commits are not overwritten`,
    'Rerun the workflow to work on the new head'
  )
}

/** Moves `branch` to `commit` only as a fast-forward; a 422 means someone pushed meanwhile. */
export async function fastForward(
  client: GitHubClient,
  repo: RepoId,
  branch: string,
  commit: string,
  expected: string
): Promise<void> {
  try {
    await attempt({ what: `update the branch ${branch}`, permissions: ['contents: write'] }, () =>
      client.rest.git.updateRef({ ...repo, ref: `heads/${branch}`, sha: commit, force: false })
    )
  } catch (error: unknown) {
    if (isHttpError(error) && error.status === 422) {
      let actual: string | undefined
      try {
        actual = (await client.rest.git.getRef({ ...repo, ref: `heads/${branch}` })).data.object.sha
      } catch {
        actual = undefined
      }
      throw branchMovedError(branch, expected, actual)
    }
    throw error
  }
}
