import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { createGit, GitError } from '../git/git.js'
import { stagePatch, type ChangedFile, type StagedPatch } from '../git/patch.js'
import { digestPatchText } from '../git/patch-digest.js'
import { checkPathPolicy, formatViolations, type PolicyViolation } from '../git/path-policy.js'
import {
  patchFilePaths,
  renderComment,
  renderPullRequestBody,
  stickyMarker,
  type CommentInput
} from '../report/comment.js'
import type { PublishSettings } from '../settings.js'
import {
  attempt,
  createGitHubClient,
  type ClientOptions,
  type GitHubClient,
  type Logger
} from './client.js'
import { branchMovedError, commitOnto, fastForward } from './commit.js'
import {
  issueNumber,
  pullRequestNumber,
  runUrl,
  type PublishContext,
  type ResolvedPublishMode
} from './context.js'
import { branchHead, type RepoId } from './git-data.js'
import {
  defaultBaseBranch,
  defaultBranchName,
  openOrUpdatePullRequest,
  resetBranch,
  validateBranchName
} from './pull-request.js'
import { stageAgainstGitHub } from './remote-stage.js'
import { upsertStickyComment } from './sticky-comment.js'

export { resolvePublishMode } from './context.js'

/**
 * Publishes a patch the agent produced: as a sticky comment, a commit on the pull request's
 * branch, a pull request, or not at all (patch). The path policy is applied first, and a
 * violation publishes nothing: with a checkout, before any request to GitHub; without one (the
 * reusable workflow's publish job), the files the patch touches are read from GitHub first, and
 * the policy is applied before anything is written.
 */

/** How the run went, for the comment and the pull request body. */
export interface RunReport {
  conclusion: string
  /** One sentence about how it ended (AgentOutcome.message). */
  outcomeMessage?: string
  finalMessage?: string
  numTurns?: number
  durationMs?: number
  costUsd?: number
  inputTokens?: number
  outputTokens?: number
  executionFile?: string
  /** Name of the workflow artifact holding the patch, when one was uploaded. */
  artifactName?: string
}

export interface PublishRequest {
  /** Already resolved from `auto` (resolvePublishMode). */
  mode: ResolvedPublishMode
  /**
   * A checkout of the repository at the commit the patch was made against; only read. When it
   * holds no repository, the patch is staged against GitHub's copy of the files it touches.
   */
  workspace: string
  patchPath: string
  report: RunReport
  settings: Omit<PublishSettings, 'mode'>
  context: PublishContext
  /** Largest new file that may be published (path policy); its default when absent. */
  maxFileBytes?: number
  log?: Logger
  /** Client tuning for tests and benchmarks (faster retries, write queue). */
  client?: Omit<ClientOptions, 'token' | 'baseUrl' | 'log'>
  /** Tree request size for the Git Data API (tests). */
  batchBytes?: number
}

export interface PublishResult {
  /** The mode actually used (commit falls back to comment for a fork's pull request). */
  mode: ResolvedPublishMode
  commentUrl?: string
  commitSha?: string
  pullRequestUrl?: string
  pullRequestNumber?: number
  /** A sentence for the log and the job summary. */
  message: string
  /** Things the user should know that did not stop publishing. */
  warnings: string[]
}

const silent: Logger = { info: () => undefined, warning: () => undefined }

interface Prepared {
  request: PublishRequest
  /** Set from the start with a checkout; staged against GitHub on first use without one. */
  staged?: StagedPatch
  /** Repository holding the staged blobs. */
  stagingRepository: string
  /** The checkout's HEAD commit, when there is a checkout. */
  checkoutHead?: string
  patchText: string
  /** Violations found from the patch's file names alone. */
  early: PolicyViolation[]
  policy: { protectedPaths: string[]; maxFileBytes?: number }
  log: Logger
  repo: RepoId
  warnings: string[]
  cleanup: Array<() => Promise<void>>
}

export async function publish(request: PublishRequest): Promise<PublishResult> {
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
  const prepared: Prepared = {
    request,
    stagingRepository: request.workspace,
    patchText,
    early,
    policy,
    log,
    repo: { owner: request.context.owner, repo: request.context.repo },
    warnings: [],
    cleanup: [],
    ...(staged ? { staged } : {}),
    ...(checkoutHead ? { checkoutHead } : {})
  }
  if (request.mode === 'patch' || early.length > 0 || staged) {
    const result = enforcePolicy(prepared, staged?.files ?? [])
    if (result) return result
  }
  if (request.mode === 'patch') {
    return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [] }
  }

  const token = request.settings.githubToken
  if (!token) {
    throw new ConfigurationError(
      `\`github-token\` is empty, and publish: ${request.mode} needs it`,
      'Pass `github-token: ${{ github.token }}` (the default) or a token with the permissions listed in the README'
    )
  }
  const client = createGitHubClient({
    ...request.client,
    token,
    baseUrl: request.context.apiUrl,
    log
  })
  try {
    if (request.mode === 'comment') return await publishComment(client, prepared, [])
    if (request.mode === 'commit') return await publishCommit(client, prepared)
    return await publishPullRequest(client, prepared)
  } finally {
    for (const dispose of prepared.cleanup) await dispose()
  }
}

/**
 * Applies the path policy to the staged files (and the names found earlier). Throws when a
 * publishing mode would publish a refused path; in patch mode returns a warning result.
 */
function enforcePolicy(p: Prepared, files: readonly ChangedFile[]): PublishResult | undefined {
  const seen = new Set(p.early.map(v => `${v.path}\0${v.reason}`))
  const violations = [
    ...p.early,
    ...checkPathPolicy(files, p.policy).filter(v => !seen.has(`${v.path}\0${v.reason}`))
  ]
  if (violations.length === 0) return undefined
  const list = formatViolations(violations)
  const count = new Set(violations.map(v => v.path)).size
  if (p.request.mode === 'patch') {
    const warning = `The patch touches ${count} path(s) the path policy would refuse to publish: ${list}`
    p.log.warning(warning)
    return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [warning] }
  }
  throw new ConfigurationError(
    `Refusing to publish: the change touches ${count} path(s) the path policy forbids: ${list}. Nothing was published`,
    'Review the patch (job summary / artifact). If these paths are meant to change, adjust `protected-paths`; changes inside .git, symlinks leaving the repository and oversized files are never published'
  )
}

/** The staged change; without a checkout, staged against `base` on GitHub (reads only). */
async function stagedChange(
  client: GitHubClient,
  p: Prepared,
  base: () => Promise<string>,
  baseLabel: string
): Promise<StagedPatch> {
  if (p.staged) return p.staged
  p.log.info(
    'No checkout in the working directory: reading the files the patch touches from GitHub'
  )
  const remote = await stageAgainstGitHub({
    client,
    repo: p.repo,
    patchText: p.patchText,
    patchPath: path.resolve(p.request.workspace, p.request.patchPath),
    baseCommit: await base(),
    baseLabel
  })
  p.cleanup.push(remote.dispose)
  p.stagingRepository = remote.repository
  enforcePolicy(p, remote.staged.files)
  p.staged = remote.staged
  return remote.staged
}

/** The checkout's HEAD commit, or undefined when the directory holds no repository. */
async function headOf(workspace: string): Promise<string | undefined> {
  const result = await createGit(workspace)
    .tryRun(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
    .catch(() => undefined)
  return result?.exitCode === 0 ? result.stdout.toString('utf8').trim() : undefined
}

/** The patch as text ('' for an empty patch); its absence is the user's mistake. */
async function readPatch(request: PublishRequest): Promise<string> {
  const patchPath = path.resolve(request.workspace, request.patchPath)
  try {
    return await readFile(patchPath, 'utf8')
  } catch {
    throw new ConfigurationError(
      `The patch file ${patchPath} does not exist or cannot be read`,
      'Pass the `patch-path` output of the run (or the file downloaded from its artifact) as `patch`'
    )
  }
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

function filesForReport(files: readonly ChangedFile[]): CommentInput['files'] {
  return files.map(f => ({
    path: f.path,
    status: f.status,
    insertions: f.insertions,
    deletions: f.deletions,
    binary: f.binary,
    ...(f.oldPath === undefined ? {} : { oldPath: f.oldPath }),
    ...(f.size === undefined ? {} : { size: f.size }),
    ...(f.newMode === undefined ? {} : { newMode: f.newMode }),
    ...(f.oldMode === undefined ? {} : { oldMode: f.oldMode })
  }))
}

function reportFields(p: Prepared, staged: StagedPatch): Omit<CommentInput, 'marker' | 'patch'> {
  const { report, context } = p.request
  const fields: Omit<CommentInput, 'marker' | 'patch'> = {
    conclusion: report.conclusion,
    files: filesForReport(staged.files),
    insertions: staged.insertions,
    deletions: staged.deletions,
    runUrl: runUrl(context),
    runId: context.runId,
    repository: `${context.owner}/${context.repo}`,
    patchFileName: path.basename(p.request.patchPath)
  }
  const optional = {
    outcomeMessage: report.outcomeMessage,
    finalMessage: report.finalMessage,
    numTurns: report.numTurns,
    durationMs: report.durationMs,
    costUsd: report.costUsd,
    inputTokens: report.inputTokens,
    outputTokens: report.outputTokens,
    artifactName: report.artifactName
  }
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(fields, { [key]: value })
  }
  return fields
}

async function publishComment(
  client: GitHubClient,
  p: Prepared,
  notes: string[]
): Promise<PublishResult> {
  const { context } = p.request
  const number = issueNumber(context)
  if (number === undefined) {
    const warning = `publish: comment needs a pull request or issue to comment on, and the ${context.eventName || 'current'} event has none; only the patch was written`
    p.log.warning(warning)
    return {
      mode: 'patch',
      message: 'Wrote the patch only (nothing to comment on)',
      warnings: [...p.warnings, warning]
    }
  }
  const staged = await stagedChange(
    client,
    p,
    () => commentBase(client, p),
    'the pull request head'
  )
  const patch = staged.files.length > 0 ? p.patchText : ''
  const marker = stickyMarker(context.workflow, context.job)
  const body = renderComment({ ...reportFields(p, staged), marker, patch, notes })
  const onPullRequest = pullRequestNumber(context) !== undefined
  const comment = await upsertStickyComment(client, p.repo, number, marker, body, onPullRequest)
  p.log.info(`${comment.created ? 'Created' : 'Updated'} the comment ${comment.url}`)
  return {
    mode: 'comment',
    commentUrl: comment.url,
    message: `${comment.created ? 'Posted' : 'Updated'} the comment on #${number}`,
    warnings: p.warnings
  }
}

interface PullRequestInfo {
  number: number
  headRef: string
  headSha: string
  headRepo?: string
}

/** The pull request of the event: from the payload, or read through the API for a PR comment. */
async function pullRequestOf(
  client: GitHubClient,
  p: Prepared
): Promise<PullRequestInfo | undefined> {
  const number = pullRequestNumber(p.request.context)
  if (number === undefined) return undefined
  type Pr = { head?: { ref?: string; sha?: string; repo?: { full_name?: string } | null } }
  let pr = p.request.context.payload.pull_request as Pr | undefined
  if (!pr?.head?.ref) {
    const response = await attempt(
      { what: `read pull request #${number}`, permissions: ['pull-requests: read'] },
      () => client.rest.pulls.get({ ...p.repo, pull_number: number })
    )
    pr = response.data as Pr
  }
  const head = pr.head ?? {}
  return {
    number,
    headRef: head.ref ?? '',
    headSha: head.sha ?? '',
    ...(head.repo?.full_name ? { headRepo: head.repo.full_name } : {})
  }
}

/** What a comment's patch is staged against without a checkout: the PR head, else the default branch. */
async function commentBase(client: GitHubClient, p: Prepared): Promise<string> {
  const pr = await pullRequestOf(client, p)
  if (pr?.headSha) return pr.headSha
  const branch = await defaultBaseBranch(client, p.repo, p.request.context)
  const head = await branchHead(client, p.repo, branch)
  if (!head) throw new ConfigurationError(`The default branch \`${branch}\` does not exist`)
  return head
}

function defaultCommitMessage(context: PublishContext): string {
  return `Apply changes from Claude Code\n\nWorkflow "${context.workflow}", job "${context.job}": ${runUrl(context)}\n`
}

async function publishCommit(client: GitHubClient, p: Prepared): Promise<PublishResult> {
  const { context, settings } = p.request
  const pr = await pullRequestOf(client, p)
  let branch: string
  let expected: string
  if (pr) {
    const ours = `${context.owner}/${context.repo}`.toLowerCase()
    if (pr.headRepo?.toLowerCase() !== ours) {
      const from = pr.headRepo ?? 'a deleted fork'
      const warning = `Pull request #${pr.number} comes from ${from}, where this workflow cannot push; the change is posted as a comment instead of a commit`
      p.log.warning(warning)
      p.warnings.push(warning)
      return publishComment(client, p, [warning])
    }
    branch = pr.headRef
    // The head when the event fired; for a comment-triggered run, the commit that was checked out.
    expected =
      pr.headSha && context.payload.pull_request ? pr.headSha : (p.checkoutHead ?? pr.headSha)
  } else if (context.ref?.startsWith('refs/heads/')) {
    branch = context.ref.slice('refs/heads/'.length)
    expected = context.sha ?? p.checkoutHead ?? ''
  } else {
    throw new ConfigurationError(
      `publish: commit needs a pull request or a branch, and this run is on ${context.ref ?? 'no ref'}`,
      'Use publish: pull-request (or comment) for this trigger'
    )
  }
  const staged = await stagedChange(
    client,
    p,
    () => Promise.resolve(expected),
    `the head of \`${branch}\``
  )
  if (staged.files.length === 0) {
    return { mode: 'commit', message: 'No changes: nothing was committed', warnings: p.warnings }
  }
  const current = await attempt(
    { what: `read the branch ${branch}`, permissions: ['contents: read'] },
    () => branchHead(client, p.repo, branch)
  )
  if (current !== expected) throw branchMovedError(branch, expected, current)
  const { commit } = await commitOnto({
    client,
    repo: p.repo,
    workspace: p.stagingRepository,
    staged,
    parent: current,
    message: settings.commitMessage ?? defaultCommitMessage(context),
    log: p.log,
    parentLabel: `the head of \`${branch}\``,
    ...(p.request.batchBytes ? { batchBytes: p.request.batchBytes } : {})
  })
  if (!commit) {
    return {
      mode: 'commit',
      message: `No changes: \`${branch}\` already has this content; nothing was committed`,
      warnings: p.warnings
    }
  }
  await fastForward(client, p.repo, branch, commit, current)
  p.log.info(`Committed ${commit} to ${branch}`)
  return {
    mode: 'commit',
    commitSha: commit,
    message: `Committed ${staged.files.length} file(s) to \`${branch}\` as ${commit.slice(0, 12)}`,
    warnings: p.warnings
  }
}

async function publishPullRequest(client: GitHubClient, p: Prepared): Promise<PublishResult> {
  const { context, settings } = p.request
  const branch = settings.branch ?? defaultBranchName(context)
  validateBranchName(branch, settings.branch ? 'branch' : 'the default branch name')
  const base = settings.baseBranch ?? (await defaultBaseBranch(client, p.repo, context))
  if (settings.baseBranch) validateBranchName(base, 'base-branch')
  if (branch === base) {
    throw new ConfigurationError(
      `\`branch\` and \`base-branch\` are both \`${base}\``,
      'pull-request mode commits to its own branch; name another `branch` (or use publish: commit)'
    )
  }
  const noChanges: PublishResult = {
    mode: 'pull-request',
    message: 'No changes: nothing was committed and no pull request opened',
    warnings: p.warnings
  }
  if (p.staged?.files.length === 0) return noChanges
  const baseHead = await attempt(
    { what: `read the base branch ${base}`, permissions: ['contents: read'] },
    () => branchHead(client, p.repo, base)
  )
  if (!baseHead) {
    throw new ConfigurationError(
      `The base branch \`${base}\` does not exist in ${context.owner}/${context.repo}`,
      'Set `base-branch` to an existing branch'
    )
  }
  const staged = await stagedChange(
    client,
    p,
    () => Promise.resolve(baseHead),
    `the head of \`${base}\``
  )
  if (staged.files.length === 0) return noChanges
  const { commit } = await commitOnto({
    client,
    repo: p.repo,
    workspace: p.stagingRepository,
    staged,
    parent: baseHead,
    message: settings.commitMessage ?? defaultCommitMessage(context),
    log: p.log,
    parentLabel: `the head of \`${base}\``,
    ...(p.request.batchBytes ? { batchBytes: p.request.batchBytes } : {})
  })
  if (!commit) {
    return {
      mode: 'pull-request',
      message: `No changes: \`${base}\` already has this content; nothing was committed and no pull request opened`,
      warnings: p.warnings
    }
  }
  const how = await resetBranch(client, p.repo, branch, commit)
  p.log.info(`${how === 'created' ? 'Created' : 'Reset'} the branch ${branch} at ${commit}`)
  const body = renderPullRequestBody({
    ...reportFields(p, staged),
    digest: digestPatchText(p.patchText),
    ...(settings.prBody ? { userBody: settings.prBody } : {}),
    workflow: context.workflow,
    job: context.job,
    branch
  })
  const pr = await openOrUpdatePullRequest(client, p.repo, {
    branch,
    base,
    title: settings.prTitle ?? `Changes from Claude Code (${context.workflow})`,
    body,
    draft: settings.prDraft,
    labels: settings.prLabels
  })
  p.log.info(`${pr.created ? 'Opened' : 'Updated'} pull request ${pr.url}`)
  return {
    mode: 'pull-request',
    commitSha: commit,
    pullRequestUrl: pr.url,
    pullRequestNumber: pr.number,
    message: `${pr.created ? 'Opened' : 'Updated'} pull request #${pr.number} from \`${branch}\` (${staged.files.length} file(s))`,
    warnings: p.warnings
  }
}
