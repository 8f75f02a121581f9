import type { AgentOutcome } from '../agent/result.js'
import type { PatchDigest } from '../git/patch-digest.js'
import {
  attributesCallout,
  escapeInline,
  leftOutFilesBlock,
  neutralizeMarkdown
} from './comment.js'

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
  /** The run's files on the runner; listed only when they are not in an uploaded artifact. */
  patchPath?: string
  executionFile?: string
  gatewayLog?: string
  networkLog?: string
  /** The uploaded artifact holding those files (report/artifact.ts). */
  artifact?: { name: string; url: string }
  /** Why there is no artifact, when the files should have been in one. */
  artifactMissing?: string
  /** The workflow run's page. */
  runUrl?: string
  image?: { id: string; cacheHit: boolean; setupMs: number; built: boolean }
  published?: string
  /** Markdown listing hosts the egress proxy refused (from the proxy's log). */
  deniedHostsMarkdown?: string
  /** Markdown on the API door: refused requests, the spend cap, a disbelieved result line. */
  apiDoorMarkdown?: string
  gatewayRequests?: number
  /** The patch as read by readPatchDigest: for the call-outs (attributes, files left out). */
  patchDigest?: PatchDigest
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
  // What a reviewer must not miss, before the figures.
  if (data.patchDigest) {
    const callouts =
      attributesCallout(
        data.patchDigest.sections,
        data.files.map(f => f.path)
      ) + leftOutFilesBlock(data.patchDigest.leftOut)
    if (callouts !== '') lines.push(callouts)
  }
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
  lines.push(...filesSection(data))
  return lines.join('\n')
}

/**
 * Where the patch, the transcript and the logs are: a link to the artifact and to the run, never
 * a path on a runner that is gone by the time anyone reads this. Only when there is no artifact
 * are the paths listed, as the one place the files are (until the job ends, on a hosted runner).
 */
function filesSection(data: SummaryData): string[] {
  const run = data.runUrl ? `[the workflow run](${data.runUrl})` : undefined
  if (data.artifact) {
    return [
      '### Files',
      '',
      `- [Artifact <code>${escapeInline(data.artifact.name)}</code>](${data.artifact.url}): the patch (apply with \`git apply --binary\`), the transcript and the gateway and network logs`,
      ...(run ? [`- Log: ${run}`] : []),
      ''
    ]
  }
  const paths: Array<[string, string | undefined]> = [
    ['Patch', data.patchPath],
    ['Transcript', data.executionFile],
    ['Gateway log', data.gatewayLog],
    ['Network log', data.networkLog]
  ]
  const listed = paths.filter((entry): entry is [string, string] => entry[1] !== undefined)
  if (listed.length === 0 && !run) return []
  const lines = ['### Files', '']
  if (data.artifactMissing) {
    lines.push(
      `Not uploaded as an artifact (${escapeCell(data.artifactMissing)}); the files are on the runner, which removes them when the job ends:`,
      ''
    )
  }
  for (const [label, file] of listed) {
    lines.push(
      `- ${label}: \`${file}\`${label === 'Patch' ? ' (apply with `git apply --binary`)' : ''}`
    )
  }
  if (run) lines.push(`- Log: ${run}`)
  lines.push('')
  return lines
}
