import path from 'node:path'
import * as core from '@actions/core'
import { ConfigurationError, errorMessage } from './errors.js'
import { contextFromEnv, publishesFor, resolvePublishMode } from './github/context.js'
import { publish, type PublishResult, type RunReport } from './github/publish.js'
import { readConclusion, readFigures, readFinalMessage } from './github/publish-settings.js'
import { getPublishSettings } from './inputs.js'
import { readPatchDigest, digestPatchText, type PatchDigest } from './git/patch-digest.js'
import { findArtifactUrl } from './report/artifact.js'
import { renderPatchSummary } from './report/comment.js'
import { knownSecretsForPublish } from './secrets/known.js'
import { redactSecrets, type KnownSecrets } from './secrets/scan.js'
import { publishThread } from './continuation/comment-thread.js'

/**
 * The publish-only action (publish/action.yml): publishes a patch made by an earlier run of the
 * main action, typically in a separate job that holds the write token and never runs the agent.
 */

const OUTPUTS = {
  mode: 'published-as',
  commentUrl: 'comment-url',
  reviewUrl: 'review-url',
  commitSha: 'commit-sha',
  pullRequestUrl: 'pull-request-url',
  pullRequestNumber: 'pull-request-number'
} as const

export async function runPublish(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const read = (name: string): string => core.getInput(name)
    const settings = getPublishSettings(read)
    // What this job can know of the run's secrets: its token and its credential-like env.
    const known = knownSecretsForPublish(settings.githubToken, env)
    for (const { value } of known.values) core.setSecret(value)
    const base = env.GITHUB_WORKSPACE || process.cwd()
    const workspace = path.resolve(base, read('working-directory').trim() || '.')
    const patch = read('patch').trim()
    if (patch === '') {
      throw new ConfigurationError(
        '`patch` is empty',
        'Pass the patch made by the run: `patch: ${{ steps.<id>.outputs.patch-path }}`, or the file downloaded from its artifact'
      )
    }
    const patchPath = path.resolve(workspace, patch)
    // The verdict and the figures are the agent job's outputs, set by the host; the transcript
    // is the agent's to write, so it is read for the final message only.
    const report: RunReport = { conclusion: readConclusion(read), ...readFigures(read) }
    const finalMessage = await finalMessageOf(read('execution-file').trim(), workspace)
    if (finalMessage) report.finalMessage = finalMessage
    if (report.conclusion === '') {
      report.outcomeMessage = 'No verdict was passed to the publish action (input `conclusion`)'
    }
    const artifactName = read('artifact-name').trim()
    if (artifactName) report.artifactName = artifactName
    // The agent job's `artifact-url` output, or else the artifact of that name this run holds.
    const artifactUrl =
      read('artifact-url').trim() ||
      (artifactName ? await findArtifactUrl(artifactName, env) : undefined)
    if (artifactUrl) report.artifactUrl = artifactUrl
    const context = contextFromEnv(env)
    const mode = resolvePublishMode(settings.mode, context)
    if (mode !== 'patch' && !publishesFor(mode, report.conclusion)) {
      const why =
        report.conclusion === ''
          ? 'no verdict was passed (input `conclusion` is empty)'
          : `the agent did not succeed (${report.conclusion})`
      core.warning(`Not publishing a ${mode}: ${why}; the patch is kept at ${patchPath}`)
      return
    }
    // After a resumed run, the comment keeps the conversation's earlier runs (the agent job's
    // `resumed-from` output).
    const thread = await publishThread(read('resumed-from'), settings, env)
    if (thread) report.thread = thread
    core.info(`Publishing ${patchPath} as: ${mode}`)
    const result = await publish({
      mode,
      workspace,
      patchPath,
      report,
      settings,
      context,
      secrets: {
        enabled: settings.secretScan !== false,
        allow: settings.secretScanAllow ?? [],
        known
      },
      log: { info: message => core.info(message), warning: message => core.warning(message) }
    })
    setOutputs(result)
    core.info(result.message)
    await writeSummary(result, patchPath, settings.secretScan !== false ? known : undefined)
  } catch (error: unknown) {
    // One ::error:: line, never a stack trace.
    core.setFailed(errorMessage(error))
  }
}

async function finalMessageOf(
  executionFile: string,
  workspace: string
): Promise<string | undefined> {
  if (executionFile === '') return undefined
  const file = path.resolve(workspace, executionFile)
  try {
    return await readFinalMessage(file)
  } catch (error: unknown) {
    core.warning(
      `Cannot read execution-file ${file} (${errorMessage(error)}); publishing without the agent's final message`
    )
    return undefined
  }
}

function setOutputs(result: PublishResult): void {
  core.setOutput(OUTPUTS.mode, result.mode)
  core.setOutput(OUTPUTS.commentUrl, result.commentUrl ?? '')
  core.setOutput(OUTPUTS.reviewUrl, result.reviewUrl ?? '')
  core.setOutput(OUTPUTS.commitSha, result.commitSha ?? '')
  core.setOutput(OUTPUTS.pullRequestUrl, result.pullRequestUrl ?? '')
  core.setOutput(
    OUTPUTS.pullRequestNumber,
    result.pullRequestNumber === undefined ? '' : String(result.pullRequestNumber)
  )
}

/** A short job summary: where the result went, and the patch itself when it fits. */
export function renderPublishSummary(result: PublishResult, patch: string | PatchDigest): string {
  const lines = ['## Claude Sandbox: publish', '', result.message, '']
  if (result.commentUrl) lines.push(`- Comment: ${result.commentUrl}`)
  if (result.reviewUrl)
    lines.push(`- Review: ${result.reviewUrl} (${result.suggestions ?? 0} suggested changes)`)
  if (result.commitSha) lines.push(`- Commit: \`${result.commitSha}\``)
  if (result.pullRequestUrl) lines.push(`- Pull request: ${result.pullRequestUrl}`)
  for (const warning of result.warnings) lines.push(`- ⚠️ ${warning.replace(/</g, '&lt;')}`)
  lines.push('', renderPatchSummary(patch))
  return lines.join('\n')
}

async function writeSummary(
  result: PublishResult,
  patchPath: string,
  known?: KnownSecrets
): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return
  try {
    // Streamed with bounded memory: the patch is never one string.
    const digest = await readPatchDigest(patchPath).catch(() => digestPatchText(''))
    const markdown = renderPublishSummary(result, digest)
    await core.summary.addRaw(known ? redactSecrets(markdown, known) : markdown).write()
  } catch (error: unknown) {
    core.warning(`Could not write the job summary: ${errorMessage(error)}`)
  }
}
