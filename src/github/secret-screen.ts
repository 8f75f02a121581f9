import { scanForPublishing, secretRefusal, describeFindings } from '../secrets/verdict.js'
import type { Staging } from './publish-stage.js'

/**
 * The secret scan before publishing: a commit or a pull request whose change holds a secret is
 * refused (nothing is written to GitHub); a comment or review is published with the secrets
 * redacted from the patch it shows and from the agent's messages. Runs after the path policy,
 * before the mode reads anything from GitHub.
 */
export function screenSecrets(s: Staging): void {
  const settings = s.request.secrets
  if (!settings?.enabled) return
  const { report } = s.request
  const result = scanForPublishing(
    s.patchText,
    [report.finalMessage, report.outcomeMessage],
    settings
  )
  if (result.blocking.length > 0) {
    if (s.request.mode === 'commit' || s.request.mode === 'pull-request') {
      throw secretRefusal(result.blocking)
    }
    const warning = `The change holds ${result.blocking.length} possible secret(s), redacted from what is published: ${describeFindings(result.blocking)}`
    s.log.warning(warning)
    s.warnings.push(warning)
  }
  s.patchText = result.redactedPatch
  if (report.finalMessage) report.finalMessage = result.redact(report.finalMessage)
  if (report.outcomeMessage) report.outcomeMessage = result.redact(report.outcomeMessage)
  if (result.inMessages > 0) {
    s.log.warning(
      `The agent's message held ${result.inMessages} possible secret(s); they are redacted`
    )
  }
}
