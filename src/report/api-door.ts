import type { AgentOutcome } from '../agent/result.js'
import type { ApiFigures } from '../api-door/api-ledger.js'
import { escapeInline } from './comment.js'

/**
 * The job summary's account of the API door (pure): what the gateway refused and why, the spend
 * against the cap, models priced at the fallback rate, and a result line the host did not believe.
 * Empty when there is nothing to say.
 */
export function formatApiDoor(
  api: ApiFigures,
  outcome: Pick<AgentOutcome, 'disagreement'>
): string {
  const lines: string[] = []
  const refused = api.refused.reduce((sum, group) => sum + group.count, 0)
  if (refused > 0) {
    lines.push(
      `### API requests refused by the gateway: ${refused}`,
      '',
      'The gateway forwards only requests shaped like the Claude Code CLI’s own (see the README, “The API door”).',
      '',
      '| Rule | Requests | Reason |',
      '|---|---|---|'
    )
    for (const group of api.refused.slice(0, 50)) {
      lines.push(`| ${escapeInline(group.rule)} | ${group.count} | ${escapeInline(group.reason)} |`)
    }
    if (api.refused.length > 50) lines.push(`| … ${api.refused.length - 50} more rules | | |`)
    lines.push('')
  }
  if (api.budget) {
    const state = api.budget.reached ? 'reached: further requests were refused' : 'not reached'
    lines.push(
      `Spend: $${api.costUsd.toFixed(4)} of max-budget-usd $${api.budget.capUsd} (${state}).`,
      ''
    )
  }
  if (api.unpricedModels.length > 0) {
    lines.push(
      `Priced at the highest known rates (no price for them; set \`model-prices\`): ${api.unpricedModels.map(m => escapeInline(m)).join(', ')}.`,
      ''
    )
  }
  if (outcome.disagreement) {
    lines.push(
      `The CLI's result line claimed success and was not believed: ${escapeInline(outcome.disagreement)}.`,
      ''
    )
  }
  return lines.join('\n').trim()
}
