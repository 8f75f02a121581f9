import path from 'node:path'
import type { ChangedFile, StagedPatch } from '../../git/patch.js'
import type { CommentInput } from '../../report/comment.js'
import { attempt, type GitHubClient } from '../client.js'
import { commitOnto, type CommitOntoResult } from '../commit.js'
import { pullRequestNumber, runUrl, type PublishContext } from '../context.js'
import type { PublishResult } from '../publish-types.js'
import type { Staging } from '../publish-stage.js'

/**
 * One publishing mode. `target` works out where the change goes, with reads only, and names the
 * commit the patch is staged against when there is no checkout; then, once the change is staged
 * and has passed the path policy, `publish` writes it there.
 */
export interface Publisher<T extends Target = Target> {
  target(client: GitHubClient, staging: Staging): Promise<TargetOutcome<T>>
  publish(
    client: GitHubClient,
    staging: Staging,
    target: T,
    staged: StagedPatch
  ): Promise<PublishResult>
}

export interface Target {
  /** The commit the patch applies to, read lazily: only needed without a checkout. */
  base(): Promise<string>
  /** How that commit is named in an error ("the head of `main`"). */
  baseLabel: string
}

export type TargetOutcome<T> =
  | { kind: 'target'; target: T }
  /** Nothing to publish here (no changes, nothing to comment on): this is the result. */
  | { kind: 'done'; result: PublishResult }
  /** This mode cannot publish here; publish as a comment instead, saying why. */
  | { kind: 'comment-instead'; note: string }

export interface PullRequestInfo {
  number: number
  headRef: string
  headSha: string
  headRepo?: string
}

type PullPayload = { head?: { ref?: string; sha?: string; repo?: { full_name?: string } | null } }

/**
 * The pull request of the event: from the payload, or read through the API for a PR comment
 * (or always, with `fresh`, to know its head now).
 */
export async function pullRequestOf(
  client: GitHubClient,
  s: Staging,
  fresh = false
): Promise<PullRequestInfo | undefined> {
  const number = pullRequestNumber(s.request.context)
  if (number === undefined) return undefined
  let pr = s.request.context.payload.pull_request as PullPayload | undefined
  if (fresh || !pr?.head?.ref) {
    const response = await attempt(
      { what: `read pull request #${number}`, permissions: ['pull-requests: read'] },
      () => client.rest.pulls.get({ ...s.repo, pull_number: number })
    )
    pr = response.data as PullPayload
  }
  const head = pr.head ?? {}
  return {
    number,
    headRef: head.ref ?? '',
    headSha: head.sha ?? '',
    ...(head.repo?.full_name ? { headRepo: head.repo.full_name } : {})
  }
}

export function filesForReport(files: readonly ChangedFile[]): CommentInput['files'] {
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

/** What the comment, the review and the pull request body say about the run. */
export function reportFields(
  s: Staging,
  staged: StagedPatch
): Omit<CommentInput, 'marker' | 'patch'> {
  const { report, context } = s.request
  const fields: Omit<CommentInput, 'marker' | 'patch'> = {
    conclusion: report.conclusion,
    files: filesForReport(staged.files),
    insertions: staged.insertions,
    deletions: staged.deletions,
    runUrl: runUrl(context),
    runId: context.runId,
    repository: `${context.owner}/${context.repo}`,
    patchFileName: path.basename(s.request.patchPath)
  }
  const optional = {
    outcomeMessage: report.outcomeMessage,
    finalMessage: report.finalMessage,
    numTurns: report.numTurns,
    durationMs: report.durationMs,
    costUsd: report.costUsd,
    inputTokens: report.inputTokens,
    outputTokens: report.outputTokens,
    artifactName: report.artifactName,
    artifactUrl: report.artifactUrl
  }
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(fields, { [key]: value })
  }
  return fields
}

export function defaultCommitMessage(context: PublishContext): string {
  return `Apply changes from Claude Code\n\nWorkflow "${context.workflow}", job "${context.job}": ${runUrl(context)}\n`
}

/**
 * Commits the staged change onto `parent`, the head of `branch`, with the run's commit message
 * (the commit and pull-request modes both publish this way). No commit when the branch already
 * has this content.
 */
export function commitStagedOnto(
  client: GitHubClient,
  s: Staging,
  staged: StagedPatch,
  parent: string,
  branch: string
): Promise<CommitOntoResult> {
  const { context, settings } = s.request
  return commitOnto({
    client,
    repo: s.repo,
    workspace: s.stagingRepository,
    staged,
    parent,
    message: settings.commitMessage ?? defaultCommitMessage(context),
    log: s.log,
    parentLabel: `the head of \`${branch}\``,
    ...(s.request.batchBytes ? { batchBytes: s.request.batchBytes } : {})
  })
}
