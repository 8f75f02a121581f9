import * as core from '@actions/core'
import { readFile, stat, writeFile } from 'node:fs/promises'
import type { AgentOutcome } from '../agent/result.js'
import { errorMessage } from '../errors.js'
import type { PatchResult } from '../git/patch.js'
import type { RunPaths } from '../run-paths.js'
import type { Settings } from '../settings.js'
import { knownSecretsFromSettings, withKnownSecrets } from './known.js'
import { findKnownSecrets, redactFindings, type KnownSecret, type KnownSecrets } from './scan.js'
import { describeFinding, scanForPublishing, type SecretScanSettings } from './verdict.js'

/**
 * The main step's secret-scan phase, between the patch and everything that leaves the run: the
 * patch's added lines and the agent's messages are scanned once; the outputs, the summary and
 * the publishing step get the redacted messages; a patch holding secrets is kept for the
 * maintainer, marked by a report file beside it in the artifact, and the transcript loses the
 * run's known values.
 */

/** The largest patch the scan reads (publishing refuses larger ones anyway). */
const MAX_SCAN_BYTES = 256 * 1024 * 1024

export interface RunScreen {
  /** The outcome with its final message and message redacted. */
  outcome: AgentOutcome
  /** Redacts any text the run publishes (the job summary). */
  redact: (text: string) => string
}

/** The report file that marks a patch holding possible secrets (uploaded with it). */
export function secretScanReportPath(patchPath: string): string {
  return `${patchPath}.secret-scan.txt`
}

/** The scan's settings for this run. */
export function secretScanSettings(settings: Settings, known: KnownSecrets): SecretScanSettings {
  return {
    enabled: settings.publish.secretScan !== false,
    allow: settings.publish.secretScanAllow ?? [],
    known
  }
}

/** The run's known secrets (settings + what the credential shield found), masked in the log. */
export function knownSecretsForRun(settings: Settings, found: KnownSecret[]): KnownSecrets {
  const known = withKnownSecrets(knownSecretsFromSettings(settings), found)
  for (const { value } of known.values) core.setSecret(value)
  return known
}

export async function screenRunResult(
  settings: Settings,
  known: KnownSecrets,
  outcome: AgentOutcome,
  patch: PatchResult,
  paths: RunPaths
): Promise<RunScreen> {
  const scan = secretScanSettings(settings, known)
  if (!scan.enabled) return { outcome, redact: text => text }
  const size = await stat(patch.patchPath).then(
    found => found.size,
    () => 0
  )
  let patchText = ''
  if (size > MAX_SCAN_BYTES) {
    core.warning(
      `The patch is too large to scan for secrets (${size} bytes); it will not be published as a commit or pull request`
    )
  } else if (size > 0) {
    patchText = await readFile(patch.patchPath, 'utf8')
  }
  const result = scanForPublishing(patchText, [outcome.finalMessage, outcome.message], scan)
  if (result.blocking.length > 0) {
    const report = [
      'The secret scan found possible secrets in the lines this patch adds (values redacted).',
      'A commit or pull request of this patch is refused; comments and reviews show it redacted.',
      '',
      ...result.blocking.map(describeFinding),
      ''
    ].join('\n')
    await writeFile(secretScanReportPath(patch.patchPath), report)
    core.warning(
      `The change holds ${result.blocking.length} possible secret(s): ${result.blocking
        .slice(0, 20)
        .map(describeFinding)
        .join(
          ', '
        )}. The patch is kept in the artifact, marked (${secretScanReportPath(patch.patchPath).split('/').pop() ?? ''})`
    )
  }
  if (result.inMessages > 0) {
    core.warning(
      `The agent's final message held ${result.inMessages} possible secret(s); the outputs, the summary and what is published show it redacted`
    )
  }
  await redactTranscript(paths.executionFile, known)
  const redacted: AgentOutcome = {
    ...outcome,
    message: result.redact(outcome.message),
    finalMessage: result.redact(outcome.finalMessage)
  }
  return { outcome: redacted, redact: result.redact }
}

/** The transcript goes into the artifact: the run's own known values are taken out of it. */
async function redactTranscript(file: string, known: KnownSecrets): Promise<void> {
  try {
    const info = await stat(file)
    if (info.size > MAX_SCAN_BYTES) return
    const text = await readFile(file, 'utf8')
    const findings = findKnownSecrets(text, known)
    if (findings.length > 0) await writeFile(file, redactFindings(text, findings))
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      core.warning(`Could not scan the transcript for secrets: ${errorMessage(error)}`)
    }
  }
}

/**
 * Takes secrets out of this step's job summary once it is written (the file is the step's own,
 * so everything in it came from this run).
 */
export async function redactStepSummary(
  redact: (text: string) => string,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  const file = env.GITHUB_STEP_SUMMARY
  if (!file) return
  try {
    const text = await readFile(file, 'utf8')
    const redacted = redact(text)
    if (redacted !== text) await writeFile(file, redacted)
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      core.warning(`Could not scan the job summary for secrets: ${errorMessage(error)}`)
    }
  }
}
