/**
 * The job summary's account of the conversation (pure): whether the run resumed and from which
 * run, what resuming saved by the gateway's own figures, and whether the session was kept for a
 * follow-up.
 */
import type { ConversationTotals, SavedSession } from './scope.js'

/** This run's figures, as the gateway counted them. */
export interface RunTokens {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  costUsd: number
}

export interface ConversationReport {
  resumed?: SavedSession
  /** Why the run started afresh, when it did. */
  freshReason?: string
  /** Commits pushed since the saved session, when the branch moved (-1: not listable). */
  newCommits?: number
  run: RunTokens
  /** Whether the session was saved for a follow-up, and if not, why. */
  saved: { ok: true; conversation?: string } | { ok: false; reason: string }
}

const n = (value: number): string => value.toLocaleString('en-US')
const usd = (value: number): string => `$${value.toFixed(4)}`

function earlierLine(totals: ConversationTotals): string {
  return (
    `${totals.runs} earlier run${totals.runs === 1 ? '' : 's'}, ${totals.turns} turns, ` +
    `${n(totals.inputTokens + totals.cacheReadTokens + totals.cacheWriteTokens)} input and ` +
    `${n(totals.outputTokens)} output tokens, ${usd(totals.costUsd)}`
  )
}

export function renderConversationReport(report: ConversationReport): string {
  const lines: string[] = []
  const { resumed, run } = report
  if (resumed) {
    const from = resumed.run.url
      ? `[run ${resumed.run.id}](${resumed.run.url})`
      : `run ${resumed.run.id}`
    lines.push(
      '### ↪️ Resumed the conversation',
      '',
      `This run continued session \`${resumed.sessionId}\` of ${from} (saved ${resumed.savedAt}); the earlier conversation: ${earlierLine(resumed.totals)}.`
    )
    if (report.newCommits !== undefined) {
      lines.push(
        '',
        report.newCommits < 0
          ? 'The branch moved since that run (its commit is not in this checkout); the agent was told before the new prompt.'
          : `The branch moved since that run: ${report.newCommits} new commit(s), listed to the agent before the new prompt.`
      )
    }
    lines.push(
      '',
      '| Tokens this run (the gateway’s figures) | |',
      '|---|---|',
      `| Read from the prompt cache (a tenth of the input price) | ${n(run.cacheReadTokens)} |`,
      `| Written to the prompt cache | ${n(run.cacheWriteTokens)} |`,
      `| Uncached input | ${n(run.inputTokens)} |`,
      `| Output | ${n(run.outputTokens)} |`,
      '',
      `Resuming saved about ${n(Math.round(run.cacheReadTokens * 0.9))} input-token equivalents through cache reads; a fresh start would also have redone the earlier work (${usd(resumed.totals.costUsd)}) to find its way back. See the README, “Follow-ups”, for when \`continue: never\` is cheaper.`
    )
  } else if (report.freshReason) {
    lines.push(`Started afresh: ${report.freshReason}.`)
  }
  lines.push(
    '',
    report.saved.ok
      ? `The session was saved for a follow-up${report.saved.conversation ? ` on ${report.saved.conversation}` : ''}.`
      : `The session was not saved: ${report.saved.reason}.`
  )
  return lines.join('\n').trim() + '\n'
}
