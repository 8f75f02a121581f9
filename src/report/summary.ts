import type { AgentOutcome } from '../agent/result.js'
import { escapeInline, neutralizeMarkdown } from './comment.js'

/** What the job summary shows; every field optional except the outcome. */
export interface SummaryData {
  outcome: AgentOutcome
  files: Array<{
    path: string
    insertions: number
    deletions: number
    status: string
    binary: boolean
  }>
  insertions: number
  deletions: number
  patchPath?: string
  executionFile?: string
  image?: { id: string; cacheHit: boolean; setupMs: number; built: boolean }
  published?: string
  /** Markdown listing hosts the egress proxy refused (from the proxy's log). */
  deniedHostsMarkdown?: string
  /** Markdown on the API door: refused requests, the spend cap, a disbelieved result line. */
  apiDoorMarkdown?: string
  gatewayRequests?: number
}

const ICON: Record<string, string> = {
  success: '✅',
  failure: '❌',
  timeout: '⏱️',
  cancelled: '🚫'
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** Quotes untrusted agent text so it cannot open HTML, show images or mention people. */
export function quoteUntrusted(text: string, max = 4000): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text
  return neutralizeMarkdown(cut)
    .split('\n')
    .map(line => `> ${line}`)
    .join('\n')
}

/** The job summary as markdown (pure, so it is tested on its own). */
export function renderSummary(data: SummaryData): string {
  const o = data.outcome
  const lines: string[] = []
  // The message can carry the CLI's errors or the container's stderr: untrusted text.
  lines.push(
    `## ${ICON[o.conclusion] ?? ''} Claude Sandbox: ${o.conclusion}`,
    '',
    neutralizeMarkdown(o.message),
    ''
  )
  lines.push('| | |', '|---|---|')
  if (o.numTurns !== undefined) lines.push(`| Turns | ${o.numTurns} |`)
  if (o.durationMs !== undefined) lines.push(`| Duration | ${(o.durationMs / 1000).toFixed(1)} s |`)
  if (o.costUsd !== undefined) lines.push(`| Cost | $${o.costUsd.toFixed(4)} |`)
  if (o.inputTokens !== undefined)
    lines.push(`| Tokens | ${o.inputTokens} in, ${o.outputTokens ?? 0} out |`)
  lines.push(`| Files changed | ${data.files.length} (+${data.insertions} −${data.deletions}) |`)
  if (data.image) {
    const how = data.image.cacheHit ? 'restored from cache' : data.image.built ? 'built' : 'present'
    lines.push(
      `| Image | \`${data.image.id.slice(0, 19)}\` (${how}, ${(data.image.setupMs / 1000).toFixed(1)} s) |`
    )
  }
  if (o.sessionId) lines.push(`| Session | \`${o.sessionId}\` |`)
  if (data.gatewayRequests !== undefined) lines.push(`| API requests | ${data.gatewayRequests} |`)
  if (data.published) lines.push(`| Published | ${escapeCell(data.published)} |`)
  lines.push('')
  if (data.files.length > 0) {
    lines.push(
      '<details><summary>Files changed</summary>',
      '',
      '| File | Change | + | − |',
      '|---|---|---|---|'
    )
    for (const f of data.files.slice(0, 300)) {
      lines.push(
        `| ${escapeInline(f.path)} | ${f.status}${f.binary ? ' (binary)' : ''} | ${f.insertions} | ${f.deletions} |`
      )
    }
    if (data.files.length > 300) lines.push(`| … ${data.files.length - 300} more | | | |`)
    lines.push('', '</details>', '')
  }
  if (o.finalMessage.trim() !== '')
    lines.push('### Final message', '', quoteUntrusted(o.finalMessage), '')
  if (data.deniedHostsMarkdown) lines.push(data.deniedHostsMarkdown, '')
  if (data.apiDoorMarkdown) lines.push(data.apiDoorMarkdown, '')
  if (data.patchPath || data.executionFile) {
    lines.push('### Files', '')
    if (data.patchPath)
      lines.push(`- Patch: \`${data.patchPath}\` (apply with \`git apply --binary\`)`)
    if (data.executionFile) lines.push(`- Transcript: \`${data.executionFile}\``)
    lines.push('')
  }
  return lines.join('\n')
}
