import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { createGit, GitError } from '../git/git.js'
import { stagePatch, type ChangedFile, type StagedPatch } from '../git/patch.js'
import { checkPathPolicy, formatViolations, type PolicyViolation } from '../git/path-policy.js'
import { patchFilePaths } from '../report/comment.js'
import type { GitHubClient, Logger } from './client.js'
import type { RepoId } from './git-data.js'
import type { PublishRequest, PublishResult } from './publish-types.js'
import { stageAgainstGitHub } from './remote-stage.js'

/**
 * The first two steps of publishing: stage the patch (turn it into objects and a file list) and
 * apply the path policy to it. With a checkout both happen before any request to GitHub. Without
 * one (the reusable workflow's publish job) the patch can only be staged once the mode knows
 * what it publishes onto, so `stageOnto` stages it against GitHub's copy of the touched files
 * and applies the policy again to what it found, before the mode writes anything.
 */

export interface Staging {
  request: PublishRequest
  log: Logger
  repo: RepoId
  patchText: string
  /** The checkout's HEAD commit, when there is a checkout. */
  checkoutHead?: string
  /** Set from the start with a checkout; staged against GitHub on first use without one. */
  staged?: StagedPatch
  /** Repository holding the staged blobs. */
  stagingRepository: string
  /** Violations found from the patch's file names alone. */
  early: PolicyViolation[]
  policy: { protectedPaths: string[]; maxFileBytes?: number }
  /** Things the user should know that did not stop publishing. */
  warnings: string[]
  cleanup: Array<() => Promise<void>>
}

const silent: Logger = { info: () => undefined, warning: () => undefined }

/** Reads the patch and stages it in the checkout when there is one. Reads nothing from GitHub. */
export async function stage(request: PublishRequest): Promise<Staging> {
  const log = request.log ?? silent
  const maxFileBytes = request.maxFileBytes ?? request.settings.maxFileBytes
  const policy = {
    protectedPaths: request.settings.protectedPaths,
    ...(maxFileBytes === undefined ? {} : { maxFileBytes })
  }
  const patchText = await readPatch(request)
  // First the paths the patch names, before git reads it: git refuses some of them (inside
  // .git) with a bare "invalid path", and the user should get the whole list either way.
  const named = patchFilePaths(patchText).map((filePath): ChangedFile => ({
    path: filePath,
    status: 'modified',
    insertions: 0,
    deletions: 0,
    binary: false
  }))
  const early = checkPathPolicy(named, policy)
  const checkoutHead = await headOf(request.workspace)
  let staged: StagedPatch | undefined
  if (patchText === '') {
    staged = emptyStage()
  } else if (checkoutHead !== undefined) {
    try {
      staged = await stagePatch(
        request.workspace,
        path.resolve(request.workspace, request.patchPath)
      )
    } catch (error: unknown) {
      if (!(error instanceof GitError)) throw error
      // git refuses some offending patches outright; the paths already found say why.
      if (early.length > 0) staged = emptyStage()
      // Otherwise the checkout is not the commit the patch was made on: stage against GitHub.
      else
        log.info(
          `The patch does not apply to the checkout (${error.message}); using GitHub's copy of the files instead`
        )
    }
  }
  return {
    request,
    log,
    repo: { owner: request.context.owner, repo: request.context.repo },
    patchText,
    stagingRepository: request.workspace,
    early,
    policy,
    warnings: [],
    cleanup: [],
    ...(staged ? { staged } : {}),
    ...(checkoutHead ? { checkoutHead } : {})
  }
}

/**
 * Applies the path policy to the names found first and the staged files (when staged). Throws
 * when a publishing mode would publish a refused path; in patch mode returns a warning result.
 */
export function enforcePolicy(s: Staging): PublishResult | undefined {
  if (s.request.mode !== 'patch' && s.early.length === 0 && !s.staged) return undefined
  const seen = new Set(s.early.map(v => `${v.path}\0${v.reason}`))
  const violations = [
    ...s.early,
    ...checkPathPolicy(s.staged?.files ?? [], s.policy).filter(
      v => !seen.has(`${v.path}\0${v.reason}`)
    )
  ]
  if (violations.length === 0) return undefined
  const list = formatViolations(violations)
  const count = new Set(violations.map(v => v.path)).size
  if (s.request.mode === 'patch') {
    const warning = `The patch touches ${count} path(s) the path policy would refuse to publish: ${list}`
    s.log.warning(warning)
    return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [warning] }
  }
  throw new ConfigurationError(
    `Refusing to publish: the change touches ${count} path(s) the path policy forbids: ${list}. Nothing was published`,
    'Review the patch (job summary / artifact). If these paths are meant to change, adjust `protected-paths`; changes inside .git, symlinks leaving the repository and oversized files are never published'
  )
}

/**
 * The staged change. Without a checkout, staged against `base` on GitHub (reads only) and put
 * through the path policy again: the files found there may be what the policy refuses.
 */
export async function stageOnto(
  client: GitHubClient,
  s: Staging,
  base: () => Promise<string>,
  baseLabel: string
): Promise<StagedPatch> {
  if (s.staged) return s.staged
  s.log.info(
    'No checkout in the working directory: reading the files the patch touches from GitHub'
  )
  const remote = await stageAgainstGitHub({
    client,
    repo: s.repo,
    patchText: s.patchText,
    patchPath: path.resolve(s.request.workspace, s.request.patchPath),
    baseCommit: await base(),
    baseLabel
  })
  s.cleanup.push(remote.dispose)
  s.stagingRepository = remote.repository
  s.staged = remote.staged
  enforcePolicy(s)
  return remote.staged
}

/** The checkout's HEAD commit, or undefined when the directory holds no repository. */
async function headOf(workspace: string): Promise<string | undefined> {
  const result = await createGit(workspace)
    .tryRun(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
    .catch(() => undefined)
  return result?.exitCode === 0 ? result.stdout.toString('utf8').trim() : undefined
}

/**
 * The largest patch publishing reads. Every mode holds it as one string and parses it more than
 * once, so a larger one would end in an out-of-memory crash (or V8's string limit) instead of
 * in a line that says what happened. 256 MiB is far beyond what a reviewer reads or GitHub takes.
 */
export const MAX_PUBLISH_PATCH_BYTES = 256 * 1024 * 1024

/** The patch as text ('' for an empty patch); its absence is the user's mistake. */
async function readPatch(request: PublishRequest): Promise<string> {
  const patchPath = path.resolve(request.workspace, request.patchPath)
  const size = await stat(patchPath).then(
    found => (found.isFile() ? found.size : undefined),
    () => undefined
  )
  if (size !== undefined && size > MAX_PUBLISH_PATCH_BYTES) {
    // Checked before reading, so nothing is loaded; the patch stays where it is.
    throw new ConfigurationError(
      `The patch ${patchPath} is ${mebibytes(size)}, more than the ${mebibytes(MAX_PUBLISH_PATCH_BYTES)} publishing reads; nothing was published`,
      'Apply it by hand with `git apply --binary` (it is kept, and in the artifact), or narrow the task so the agent changes less'
    )
  }
  try {
    return await readFile(patchPath, 'utf8')
  } catch {
    throw new ConfigurationError(
      `The patch file ${patchPath} does not exist or cannot be read`,
      'Pass the `patch-path` output of the run (or the file downloaded from its artifact) as `patch`'
    )
  }
}

function mebibytes(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`
}

function emptyStage(): StagedPatch {
  return {
    files: [],
    insertions: 0,
    deletions: 0,
    tree: '',
    readBlob: () => Promise.reject(new Error('no changes'))
  }
}
