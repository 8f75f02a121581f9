import {
  COMMENT_LIMIT,
  escapeInline,
  fenceFor,
  formatDuration,
  neutralizeMarkdown,
  truncateUtf16,
  type RunFigures,
  type RunLinks
} from '../report/comment.js'
import type { BodyPart, BodyReason } from './suggestions.js'

/**
 * The body of the review that carries the suggested changes (pure). It says how the run went,
 * how to apply the suggestions, and shows as per-file diffs what could not be a suggestion,
 * within GitHub's 65,536-character limit: files are shown in order while they fit, the rest are
 * named, and the reader is pointed at the whole patch. Agent-written text is neutralised as in
 * the sticky comment.
 */

export interface ReviewBodyInput
  extends Omit<RunFigures, 'inputTokens' | 'outputTokens'>, RunLinks {
  /** The hidden marker that starts the body and finds this review again on a rerun. */
  marker: string
  conclusion: string
  outcomeMessage?: string
  finalMessage?: string
  files: number
  insertions: number
  deletions: number
  suggestions: number
  suggestedFiles: number
  body: BodyPart[]
  /** Lines shown first (why nothing was suggested, say). */
  notes?: string[]
}

const ICON: Record<string, string> = {
  success: '✅',
  failure: '❌',
  timeout: '⏱️',
  cancelled: '🚫'
}
const MARGIN = 512
const FINAL_MESSAGE_MAX = 4_000
const LEFT_OUT_RESERVE = 3_000

const REASON: Record<BodyReason, string> = {
  'new file': 'new file',
  'deleted file': 'deleted file',
  renamed: 'renamed',
  copied: 'copied',
  binary: 'binary',
  'mode change': 'mode change',
  'not in the pull request': 'not part of this pull request',
  'outside the pull request diff': 'lines outside this pull request’s diff',
  'newline at end of file': 'changes the newline at the end of the file',
  'nothing to anchor to': 'no line to attach a suggestion to',
  'too long for a comment': 'too long for one review comment',
  'too many suggestions': 'past the number of suggestions one review carries',
  'changed since the checkout':
    'the pull request’s head has another version of this file than the agent worked on'
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`
}

function stats(input: ReviewBodyInput): string {
  const parts = [
    input.files === 0
      ? 'no changes'
      : `**${plural(input.files, 'file')} changed** (+${input.insertions} −${input.deletions})`
  ]
  if (input.numTurns !== undefined) parts.push(plural(input.numTurns, 'turn'))
  if (input.durationMs !== undefined) parts.push(formatDuration(input.durationMs))
  if (input.costUsd !== undefined) parts.push(`$${input.costUsd.toFixed(4)}`)
  if (input.runUrl) parts.push(`[workflow run](${input.runUrl})`)
  return parts.join(' · ')
}

function wholePatch(input: ReviewBodyInput): string {
  const file = input.patchFileName ?? 'claude.patch'
  const safe = (text: string | undefined): boolean => !!text && /^[\w./-]+$/.test(text)
  const lines: string[] = []
  if (input.artifactUrl && /^https?:\/\//.test(input.artifactUrl)) {
    lines.push(`The whole patch is in [the run’s artifact](${input.artifactUrl}).`, '')
  }
  if (safe(input.artifactName) && safe(input.runId) && safe(input.repository) && safe(file)) {
    lines.push(
      'To apply the whole change locally:',
      '```sh',
      `gh run download ${input.runId} --repo ${input.repository} --name ${input.artifactName}`,
      `git apply --binary ${file}`,
      '```'
    )
  } else if (lines.length === 0) {
    const run = input.runUrl ? `[the workflow run](${input.runUrl})` : 'the workflow run'
    lines.push(
      `The whole patch is in the artifacts of ${run} (apply it with <code>git apply --binary ${escapeInline(file)}</code>).`
    )
  }
  return `${lines.join('\n')}\n`
}

function partBlock(part: BodyPart): string {
  const why = part.reasons.map(r => REASON[r]).join(', ')
  const summary = `<code>${escapeInline(part.path)}</code>${why ? ` — ${why}` : ''}`
  if (part.binary) {
    return `<details><summary>${summary}</summary>\n\nBinary change; apply the patch to see it.\n\n</details>\n`
  }
  const content = part.diff.endsWith('\n') ? part.diff : `${part.diff}\n`
  const fence = fenceFor(content)
  return `<details><summary>${summary}</summary>\n\n${fence}diff\n${content}${fence}\n\n</details>\n`
}

export function renderReviewBody(input: ReviewBodyInput, limit = COMMENT_LIMIT): string {
  const budget = limit - MARGIN
  const icon = ICON[input.conclusion] ?? 'ℹ️'
  const what =
    input.suggestions > 0
      ? `${plural(input.suggestions, 'suggested change')} on ${plural(input.suggestedFiles, 'file')}`
      : 'no suggested changes'
  const head = [
    input.marker,
    `### ${icon} Claude Code (${escapeInline(input.conclusion || 'no verdict')}): ${what}`,
    '',
    stats(input)
  ]
  if (input.outcomeMessage && input.conclusion !== 'success') {
    head.push('', neutralizeMarkdown(truncateUtf16(input.outcomeMessage.replace(/\s+/g, ' '), 500)))
  }
  for (const note of input.notes ?? []) head.push('', `> [!NOTE]\n> ${note}`)
  if (input.suggestions > 0) {
    head.push(
      '',
      'Each suggestion replaces the lines it is on with the agent’s version. Applied together ' +
        '(*Files changed* → **Add suggestion to batch** → **Commit suggestions**) they make exactly ' +
        'the agent’s change to those lines.'
    )
  }
  let body = `${head.join('\n')}\n\n`
  const message = (input.finalMessage ?? '').trim()
  if (message !== '') {
    const quoted = neutralizeMarkdown(truncateUtf16(message, FINAL_MESSAGE_MAX))
      .split('\n')
      .map(line => (line === '' ? '>' : `> ${line}`))
      .join('\n')
    body += `<details><summary>Final message</summary>\n\n${quoted}\n\n</details>\n\n`
  }
  const tail = wholePatch(input)
  if (input.body.length > 0) {
    body += `#### Not as suggestions\n\n`
    const room = budget - body.length - tail.length - LEFT_OUT_RESERVE
    let diffs = ''
    const leftOut: BodyPart[] = []
    for (const part of input.body) {
      const block = part.diff.length > room - diffs.length ? '' : partBlock(part)
      if (block !== '' && diffs.length + block.length <= room) diffs += block
      else leftOut.push(part)
    }
    body += diffs
    if (leftOut.length > 0) {
      let note = `\n**${plural(leftOut.length, 'more file')} too long to show here**: `
      const names: string[] = []
      for (const part of leftOut) {
        const name = `<code>${escapeInline(part.path)}</code>`
        if (note.length + names.join(', ').length + name.length > LEFT_OUT_RESERVE - 200) break
        names.push(name)
      }
      note += names.join(', ')
      if (names.length < leftOut.length)
        note += ` and ${plural(leftOut.length - names.length, 'more')}`
      body += `${note}.\n`
    }
    body += '\n'
  }
  body += tail
  if (body.length <= limit - MARGIN / 2) return body
  const cut = '\n\n_(cut to fit GitHub’s limit)_\n'
  return truncateUtf16(body, limit - MARGIN / 2 - cut.length) + cut
}
