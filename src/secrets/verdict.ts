import { ConfigurationError } from '../errors.js'
import { findingLocation, scanPatch, type PatchFinding } from './patch-scan.js'
import {
  findSecrets,
  redactFindings,
  redactedValue,
  type Finding,
  type KnownSecrets
} from './scan.js'

/** The secret scan's settings as publishing needs them (`secret-scan`, `secret-scan-allow`). */
export interface SecretScanSettings {
  enabled: boolean
  /** Globs of paths whose well-known-format findings are allowed (test fixtures). */
  allow: string[]
  known: KnownSecrets
}

/** What the scan found in a patch and the texts around it, and how to publish them redacted. */
export interface SecretScanResult {
  /** Findings on the patch's added lines (and file names) that are not allowed. */
  blocking: PatchFinding[]
  /** Findings in the agent's messages (final message, outcome). */
  inMessages: number
  /** The patch with every finding it adds that is not allowed redacted. */
  redactedPatch: string
  /** Redacts any text with the same rules (what the scan allowed stays). */
  redact: (text: string) => string
}

const MAX_LISTED = 20

export function scanForPublishing(
  patchText: string,
  messages: ReadonlyArray<string | undefined>,
  settings: SecretScanSettings
): SecretScanResult {
  const findings = scanPatch(patchText, settings.known, settings.allow)
  const allowedValues = new Set(findings.filter(f => f.allowed).map(f => f.value))
  const redact = (text: string): string =>
    redactFindings(
      text,
      findSecrets(text, settings.known).filter(
        f => !(f.kind === 'format' && allowedValues.has(f.value))
      )
    )
  return {
    blocking: findings.filter(f => f.added && !f.allowed),
    inMessages: messages.reduce(
      (count, text) => count + (text ? findSecrets(text, settings.known).length : 0),
      0
    ),
    // Only what the change adds: context lines are the repository's own, and the patch must
    // still apply where it is staged for a comment.
    redactedPatch: redactFindings(
      patchText,
      findings.filter(f => f.added && !f.allowed)
    ),
    redact
  }
}

/** One finding for a message: `file:line (rule, ghp_***)`. */
export function describeFinding(finding: PatchFinding): string {
  return `${findingLocation(finding)} (${finding.rule}, ${redactedValue(finding)})`
}

export function describeFindings(findings: readonly PatchFinding[]): string {
  const shown = findings.slice(0, MAX_LISTED).map(describeFinding)
  const more = findings.length - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ')
}

/** The refusal of a commit or pull request: one line naming files, lines and rules. */
export function secretRefusal(findings: readonly PatchFinding[]): ConfigurationError {
  const files = new Set(findings.map(f => f.file)).size
  return new ConfigurationError(
    `Refusing to publish: the change holds ${findings.length} possible secret(s) in ${files} file(s): ${describeFindings(findings)}. Nothing was published`,
    'Review the patch (it is kept in the artifact, marked). Remove the secrets from the change; a path holding test fixtures can be allowed with `secret-scan-allow` (well-known formats only: the run’s own secrets are never allowed), and `secret-scan: false` turns the scan off'
  )
}

export type { Finding, PatchFinding }
