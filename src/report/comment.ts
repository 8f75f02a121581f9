/**
 * The sticky pull-request comment and the pull request body, as markdown (pure, no I/O).
 *
 * GitHub refuses a comment body over 65,536 characters, and a refused comment loses the whole
 * result, so every part is budgeted: the body never exceeds COMMENT_LIMIT UTF-16 code units
 * (JavaScript's `length`, which is never less than GitHub's own count). When the diff does not
 * fit, whole files are shown in order while they fit, the rest are named, and the reader is told
 * where the whole patch is.
 *
 * Everything the agent wrote (its final message, file names, diff content) is untrusted: it is
 * escaped so it cannot open HTML, close our <details> blocks or fences, forge the hidden marker,
 * or @mention people.
 */

/** GitHub's maximum comment (and pull request body) length. */
export const COMMENT_LIMIT = 65_536

/**
 * Kept free below the limit: the marker is part of the body and counted, this is slack so a
 * rounding mistake in one section can never push the body over.
 */
const SAFETY_MARGIN = 512

/** Longest excerpt of the agent's final message in a comment. */
const FINAL_MESSAGE_MAX = 6_000

/** The files table is a summary; past this many rows it says how many more there are. */
const TABLE_MAX_ROWS = 150

/** Space held back for the note that lists files whose diff was left out. */
const LEFT_OUT_RESERVE = 4_000

export interface CommentFile {
  path: string
  oldPath?: string
  status: string
  insertions: number
  deletions: number
  binary: boolean
  size?: number
  newMode?: string
  oldMode?: string
}

export interface CommentInput {
  /** The hidden marker (see stickyMarker); it starts the body. */
  marker: string
  conclusion: string
  /** One sentence about how the run ended (AgentOutcome.message). */
  outcomeMessage?: string
  files: CommentFile[]
  insertions: number
  deletions: number
  /** The whole patch (`git apply --binary` format); '' when there is none. */
  patch: string
  finalMessage?: string
  numTurns?: number
  durationMs?: number
  costUsd?: number
  inputTokens?: number
  outputTokens?: number
  /** Link to the workflow run. */
  runUrl?: string
  runId?: string
  /** owner/name, for the `gh run download` command. */
  repository?: string
  /** Name of the workflow artifact holding the patch, when one was uploaded. */
  artifactName?: string
  /** That artifact's page (`…/actions/runs/<run>/artifacts/<id>`), when known. */
  artifactUrl?: string
  /** File name of the patch inside the artifact. */
  patchFileName?: string
  /** Lines shown under the header (e.g. why publishing fell back to a comment). */
  notes?: string[]
  /** Where the change was published, e.g. a commit link. */
  publishedTo?: string
}

const ICON: Record<string, string> = {
  success: '✅',
  failure: '❌',
  timeout: '⏱️',
  cancelled: '🚫'
}

const HEADLINE: Record<string, string> = {
  success: 'finished',
  failure: 'failed',
  timeout: 'timed out (partial work kept)',
  cancelled: 'was cancelled (partial work kept)'
}

/** The hidden marker that identifies the sticky comment of one workflow and job. */
export function stickyMarker(workflow: string, job: string): string {
  // encodeURIComponent leaves no '-->' or ':' that could end the comment or blur the fields.
  const part = (text: string): string => encodeURIComponent(text).replace(/-/g, '%2D')
  return `<!-- claude-sandbox:${part(workflow)}:${part(job)} -->`
}

/** True when a comment body is the sticky comment carrying `marker` (it must start with it). */
export function isStickyComment(body: string | undefined | null, marker: string): boolean {
  return typeof body === 'string' && body.startsWith(marker)
}

// ---- escaping ------------------------------------------------------------------------------

const ZWSP = '\u200b'

/**
 * Untrusted markdown made inert where it matters: no HTML (so no comments, no markers, no
 * closing of our <details>), no images (fetched on view), no @mentions or team mentions. A zero-width space is invisible in
 * rendered text and in code blocks alike, unlike entities, which code blocks show verbatim.
 */
export function neutralizeMarkdown(text: string): string {
  return (
    text
      .replace(/</g, `<${ZWSP}`)
      // An image is fetched when the page is viewed: its URL could carry the repository's text
      // out past the sandbox's network policy. A link needs a click, so a zero-width space goes after the `!`.
      .replace(/!\[/g, `!${ZWSP}[`)
      .replace(/(^|[^A-Za-z0-9_`])@(?=[A-Za-z0-9_-])/g, `$1@${ZWSP}`)
  )
}

/** Text for inside an HTML element on one line: every character shown as itself, inert. */
export function escapeInline(text: string): string {
  return Array.from(visibleControls(text))
    .map(ch => {
      if (/[&<>"'`*_[\]\\|~@#!:(){}+=-]/.test(ch)) return `&#${ch.codePointAt(0) as number};`
      return ch
    })
    .join('')
}

/** Control characters (a newline in a file name, say) shown as escapes, never acted on. */
function visibleControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ch => {
    const code = ch.charCodeAt(0)
    if (code === 10) return '\\n'
    if (code === 13) return '\\r'
    if (code === 9) return '\\t'
    return `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** A backtick fence longer than any run of backticks in `content`, so content cannot close it. */
export function fenceFor(content: string): string {
  let longest = 0
  for (const match of content.matchAll(/`+/g)) longest = Math.max(longest, match[0].length)
  return '`'.repeat(Math.max(3, longest + 1))
}

/**
 * Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair (a lone
 * surrogate is not valid Unicode and GitHub would reject or mangle it).
 */
export function truncateUtf16(text: string, max: number): string {
  if (text.length <= max) return text
  let end = Math.max(0, max)
  const code = text.charCodeAt(end - 1)
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end -= 1
  return text.slice(0, end)
}

// ---- the patch, per file -------------------------------------------------------------------

export interface PatchSection {
  /** The path after the change ('' when the header could not be read). */
  path: string
  text: string
  binary: boolean
}

/** Splits a `git diff` patch at its `diff --git` headers, one section per file. */
export function splitPatch(patch: string): PatchSection[] {
  if (patch === '') return []
  const starts: number[] = []
  const header = /^diff --git /gm
  for (let m = header.exec(patch); m !== null; m = header.exec(patch)) starts.push(m.index)
  if (starts.length === 0) return []
  return starts.map((start, i) => {
    const text = patch.slice(start, starts[i + 1] ?? patch.length)
    return {
      path: sectionPath(text),
      text,
      binary: /^(GIT binary patch|Binary files .* differ)$/m.test(text)
    }
  })
}

/** The new path of a section, read from the lines git writes unambiguously. */
function sectionPath(section: string): string {
  // Only the header: a hunk line '+++ x' is an added line '++ x', not a file name.
  const headerEnd = section.search(/^(@@ |GIT binary patch)/m)
  const lines = (headerEnd < 0 ? section : section.slice(0, headerEnd)).split('\n')
  for (const line of lines) {
    if (line.startsWith('+++ ')) {
      const p = unquote(line.slice(4))
      if (p !== '/dev/null') return p.replace(/^b\//, '')
    }
    if (line.startsWith('rename to ')) return unquote(line.slice(10))
    if (line.startsWith('copy to ')) return unquote(line.slice(8))
  }
  for (const line of lines) {
    if (line.startsWith('--- ')) {
      const p = unquote(line.slice(4))
      if (p !== '/dev/null') return p.replace(/^a\//, '')
    }
  }
  // No ---/+++ lines (mode change, binary, empty file): "diff --git a/X b/X" with equal halves.
  const first = lines[0]?.slice('diff --git '.length) ?? ''
  if (first.startsWith('"')) {
    const m = /^"(?:[^"\\]|\\.)*" ("(?:[^"\\]|\\.)*")$/.exec(first)
    if (m) return unquote(m[1] as string).replace(/^b\//, '')
  }
  const half = (first.length - 1) / 2
  if (Number.isInteger(half) && first.slice(2, half) === first.slice(half + 3)) {
    return first.slice(half + 3)
  }
  return ''
}

/**
 * Every path a patch names (old and new sides, renames, copies), read from its headers without
 * applying it: the path policy judges them before git does, so a patch git would refuse (one
 * reaching into .git, say) is still reported path by path.
 */
export function patchFilePaths(patch: string): string[] {
  const paths = new Set<string>()
  const prefixed = (text: string, prefix: string): void => {
    const p = unquote(text)
    if (p !== '/dev/null') paths.add(p.startsWith(prefix) ? p.slice(prefix.length) : p)
  }
  for (const section of splitPatch(patch)) {
    if (section.path !== '') paths.add(section.path)
    // Only the header lines before the first hunk; '--- '/'+++ ' inside hunks are content.
    const headerEnd = section.text.search(/^(@@ |GIT binary patch)/m)
    const header = headerEnd < 0 ? section.text : section.text.slice(0, headerEnd)
    for (const line of header.split('\n')) {
      if (line.startsWith('--- ')) prefixed(line.slice(4), 'a/')
      else if (line.startsWith('+++ ')) prefixed(line.slice(4), 'b/')
      else if (line.startsWith('rename from ')) paths.add(unquote(line.slice(12)))
      else if (line.startsWith('rename to ')) paths.add(unquote(line.slice(10)))
      else if (line.startsWith('copy from ')) paths.add(unquote(line.slice(10)))
      else if (line.startsWith('copy to ')) paths.add(unquote(line.slice(8)))
    }
  }
  return [...paths]
}

/** Undoes git's C-style quoting of a path ("a/\303\251" -> a/é). */
export function unquote(text: string): string {
  const trimmed = text.replace(/\t$/, '')
  if (!trimmed.startsWith('"') || !trimmed.endsWith('"')) return trimmed
  const bytes: number[] = []
  const body = trimmed.slice(1, -1)
  const simple: Record<string, number> = {
    n: 10,
    t: 9,
    r: 13,
    a: 7,
    b: 8,
    f: 12,
    v: 11,
    '"': 34,
    '\\': 92
  }
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] as string
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'))
      continue
    }
    const next = body[i + 1] ?? ''
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8))
      i += 3
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0))
      i += 1
    }
  }
  return Buffer.from(bytes).toString('utf8')
}

// ---- pieces --------------------------------------------------------------------------------

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`
}

function formatTokens(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toLocaleString('en-US')
}

function statsLine(input: CommentInput): string {
  const parts: string[] = []
  parts.push(
    input.files.length === 0
      ? 'no changes'
      : `**${plural(input.files.length, 'file')} changed** (+${input.insertions} −${input.deletions})`
  )
  if (input.numTurns !== undefined) parts.push(plural(input.numTurns, 'turn'))
  if (input.durationMs !== undefined) parts.push(formatDuration(input.durationMs))
  if (input.costUsd !== undefined) parts.push(`$${input.costUsd.toFixed(4)}`)
  if (input.inputTokens !== undefined) {
    parts.push(
      `${formatTokens(input.inputTokens)} tokens in, ${formatTokens(input.outputTokens ?? 0)} out`
    )
  }
  if (input.runUrl) parts.push(`[workflow run](${input.runUrl})`)
  return parts.join(' · ')
}

function headerBlock(input: CommentInput): string {
  const icon = ICON[input.conclusion] ?? 'ℹ️'
  const headline = HEADLINE[input.conclusion] ?? `ended: ${escapeInline(input.conclusion)}`
  const lines = [input.marker, `### ${icon} Claude Code ${headline}`, '', statsLine(input)]
  if (input.outcomeMessage && input.conclusion !== 'success') {
    lines.push('', neutralizeMarkdown(oneLine(input.outcomeMessage, 500)))
  }
  if (input.publishedTo) lines.push('', input.publishedTo)
  for (const note of input.notes ?? []) lines.push('', `> [!WARNING]\n> ${note}`)
  return `${lines.join('\n')}\n`
}

function oneLine(text: string, max: number): string {
  return truncateUtf16(text.replace(/\s+/g, ' ').trim(), max)
}

function statusText(file: CommentFile): string {
  const mode = (m?: string): string =>
    m === '100755'
      ? 'executable'
      : m === '120000'
        ? 'symlink'
        : m === '160000'
          ? 'submodule'
          : 'file'
  let text = file.status
  if (file.status === 'renamed' || file.status === 'copied') {
    text += ` from <code>${escapeInline(file.oldPath ?? '')}</code>`
  }
  if (file.oldMode && file.newMode && file.oldMode !== file.newMode) {
    text += ` (${mode(file.oldMode)} → ${mode(file.newMode)})`
  } else if (file.status === 'added' && file.newMode && file.newMode !== '100644') {
    text += ` (${mode(file.newMode)})`
  }
  if (file.binary) text += ', binary'
  return text
}

function filesTable(files: CommentFile[], budget: number): string {
  if (files.length === 0) return ''
  const head = '| File | Change | + | − |\n|---|---|--:|--:|\n'
  let out = head
  let shown = 0
  for (const file of files) {
    const row = `| <code>${escapeInline(file.path)}</code> | ${statusText(file)} | ${file.insertions} | ${file.deletions} |\n`
    if (shown >= TABLE_MAX_ROWS || out.length + row.length > budget - 200) break
    out += row
    shown++
  }
  if (shown < files.length) {
    const rest = files.slice(shown)
    const ins = rest.reduce((s, f) => s + f.insertions, 0)
    const del = rest.reduce((s, f) => s + f.deletions, 0)
    out += `| … ${plural(rest.length, 'more file')} | | ${ins} | ${del} |\n`
  }
  return `${out}\n`
}

function finalMessageBlock(message: string | undefined): string {
  const text = (message ?? '').trim()
  if (text === '') return ''
  let shown = truncateUtf16(text, FINAL_MESSAGE_MAX)
  const cut = shown.length < text.length
  shown = neutralizeMarkdown(shown)
    .split('\n')
    .map(line => (line === '' ? '>' : `> ${line}`))
    .join('\n')
  const more = cut
    ? `\n\n_(cut to ${FINAL_MESSAGE_MAX.toLocaleString('en-US')} characters; the whole message is in the job summary)_`
    : ''
  return `<details open><summary>Final message</summary>\n\n${shown}${more}\n\n</details>\n\n`
}

function diffBlock(file: CommentFile | undefined, section: PatchSection): string {
  const path = file?.path ?? section.path
  const summary = `<code>${escapeInline(path)}</code> (+${file?.insertions ?? 0} −${file?.deletions ?? 0})`
  if (section.binary || file?.binary) {
    const size = file?.size !== undefined ? `, ${plural(file.size, 'byte')}` : ''
    return `<details><summary>${summary}</summary>\n\nBinary file ${file?.status ?? 'changed'}${size}; apply the patch to see it.\n\n</details>\n`
  }
  const content = section.text.endsWith('\n') ? section.text : `${section.text}\n`
  const fence = fenceFor(content)
  return `<details><summary>${summary}</summary>\n\n${fence}diff\n${content}${fence}\n\n</details>\n`
}

/** "[the `name` artifact](url)", or the best this run can say about where its artifacts are. */
function artifactLink(
  input: Pick<CommentInput, 'artifactName' | 'artifactUrl' | 'runUrl'>
): string {
  const name = input.artifactName ? `<code>${escapeInline(input.artifactName)}</code> ` : ''
  if (input.artifactUrl) return `[the ${name}artifact](${input.artifactUrl})`
  const run = input.runUrl ? `[the workflow run](${input.runUrl})` : 'the workflow run'
  return `the ${name}artifact${name ? '' : 's'} of ${run}`
}

function applyBlock(input: CommentInput): string {
  const file = input.patchFileName ?? 'claude.patch'
  const lines = ['<details><summary>Apply this change locally</summary>', '']
  lines.push(
    `Download <code>${escapeInline(file)}</code> from ${artifactLink(input)}, then run <code>git apply --binary ${escapeInline(file)}</code> in your checkout.`
  )
  // Only names that need no quoting go into the command (they come from workflow inputs).
  const safe = (text: string | undefined): boolean => !!text && /^[\w./-]+$/.test(text)
  if (safe(input.artifactName) && safe(input.runId) && safe(input.repository) && safe(file)) {
    const fence = '```'
    lines.push(
      '',
      'Or with the GitHub CLI:',
      '',
      `${fence}sh`,
      `gh run download ${input.runId} --repo ${input.repository} --name ${input.artifactName}`,
      `git apply --binary ${file}`,
      fence
    )
  }
  lines.push('', '</details>', '')
  return `${lines.join('\n')}\n`
}

function whereIsThePatch(input: CommentInput): string {
  const run = input.runUrl ? `[the workflow run](${input.runUrl})` : 'the workflow run'
  const name = input.artifactName ? `<code>${escapeInline(input.artifactName)}</code> ` : ''
  const artifact = input.artifactUrl
    ? `[the ${name}artifact](${input.artifactUrl})`
    : `its ${name}artifact${name ? '' : 's'}`
  return patchFitsSummary(input.patch)
    ? `The whole patch is in the job summary of ${run} and in ${artifact}.`
    : `The whole patch is in ${input.artifactUrl ? artifact : `the ${name}artifact${name ? '' : 's'}`} of ${run} (it is too large for the job summary).`
}

/**
 * GitHub keeps at most 1 MiB of job summary per step; a patch up to this many UTF-8 bytes is
 * shown there whole (renderPatchSummary), leaving room for the rest of the summary.
 */
export const SUMMARY_PATCH_MAX_BYTES = 900_000

export function patchFitsSummary(patch: string): boolean {
  // UTF-16 length * 3 bounds the UTF-8 size; only count exactly when that bound is too big.
  return (
    patch.length * 3 <= SUMMARY_PATCH_MAX_BYTES ||
    Buffer.byteLength(patch, 'utf8') <= SUMMARY_PATCH_MAX_BYTES
  )
}

/**
 * The whole patch for the job summary, in a fence its content cannot close, or a note saying
 * where it is when it is too large. The comment promises the patch is there when it fits.
 */
export function renderPatchSummary(
  patch: string,
  artifactName?: string,
  artifactUrl?: string
): string {
  if (patch === '') return ''
  const name = artifactName ? `<code>${escapeInline(artifactName)}</code> ` : ''
  const where = artifactUrl
    ? `[the ${name}artifact](${artifactUrl})`
    : name
      ? `the ${name}artifact`
      : 'the run’s artifacts'
  if (!patchFitsSummary(patch)) {
    return `The patch (${plural(Buffer.byteLength(patch, 'utf8'), 'byte')}) is too large to show here; it is in ${where}.\n`
  }
  const content = patch.endsWith('\n') ? patch : `${patch}\n`
  const fence = fenceFor(content)
  return `<details><summary>The whole patch (apply with <code>git apply --binary</code>)</summary>\n\n${fence}diff\n${content}${fence}\n\n</details>\n`
}

function leftOutBlock(input: CommentInput, leftOut: CommentFile[], budget: number): string {
  if (leftOut.length === 0) return ''
  let text = `**${plural(leftOut.length, 'file')} not shown here**: ${
    leftOut.length === input.files.length ? 'the diff is' : 'their diffs are'
  } too long for a GitHub comment (${COMMENT_LIMIT.toLocaleString('en-US')} characters). ${whereIsThePatch(input)}\n\n`
  let listed = 0
  for (const file of leftOut) {
    const item = `<code>${escapeInline(file.path)}</code>, `
    if (text.length + item.length > budget - 120) break
    text += item
    listed++
  }
  text = text.replace(/, $/, '')
  if (listed < leftOut.length)
    text += `${listed > 0 ? ' and ' : ''}${plural(leftOut.length - listed, 'more file')}`
  return `${text}\n\n`
}

// ---- the comment ---------------------------------------------------------------------------

/** The sticky comment; never longer than `limit` UTF-16 units. */
export function renderComment(input: CommentInput, limit = COMMENT_LIMIT): string {
  const budget = limit - SAFETY_MARGIN
  const header = headerBlock(input)
  const message = finalMessageBlock(input.finalMessage)
  const apply = input.files.length > 0 ? applyBlock(input) : ''
  const fixed = header.length + message.length + apply.length
  const table = filesTable(input.files, Math.min(12_000, Math.max(0, (budget - fixed) / 3)))

  let body = `${header}\n${table}${message}`
  if (input.files.length === 0) {
    body += '_The agent left the repository unchanged._\n'
    return finish(body, limit)
  }

  const sections = splitPatch(input.patch)
  const byPath = new Map(input.files.map(f => [f.path, f]))
  const diffBudget = budget - body.length - apply.length - LEFT_OUT_RESERVE - 40
  let diffs = ''
  const shown = new Set<string>()
  for (const section of sections) {
    // A section longer than what is left cannot fit; skip it without rendering it.
    if (!section.binary && section.text.length > diffBudget - diffs.length) continue
    const file = byPath.get(section.path)
    const block = diffBlock(file, section)
    if (diffs.length + block.length <= diffBudget) {
      diffs += block
      shown.add(section.path)
    }
  }
  const leftOut = input.files.filter(f => !shown.has(f.path))
  if (diffs !== '') body += `#### Changes\n\n${diffs}\n`
  body += leftOutBlock(input, leftOut, LEFT_OUT_RESERVE)
  body += apply
  return finish(body, limit)
}

/** Last line of defence: a body over the limit is cut (never expected; budgets prevent it). */
function finish(body: string, limit: number): string {
  if (body.length <= limit - SAFETY_MARGIN / 2) return body
  const note = '\n\n_(cut to fit GitHub’s comment limit)_\n'
  return truncateUtf16(body, limit - SAFETY_MARGIN / 2 - note.length) + note
}

// ---- the pull request body -----------------------------------------------------------------

export interface PullRequestBodyInput extends Omit<CommentInput, 'patch' | 'marker'> {
  /** The user's `pr-body`, shown first. */
  userBody?: string
  workflow: string
  job: string
  branch: string
}

/** The pull request body: what was done and how the run went; the diff is the PR itself. */
export function renderPullRequestBody(input: PullRequestBodyInput, limit = COMMENT_LIMIT): string {
  const budget = limit - SAFETY_MARGIN
  const parts: string[] = []
  if (input.userBody) parts.push(`${truncateUtf16(input.userBody, 20_000)}\n\n---\n`)
  const icon = ICON[input.conclusion] ?? 'ℹ️'
  parts.push(
    `${icon} Made by Claude Code (${escapeInline(input.conclusion)}) · ${statsLine({ ...input, patch: '', marker: '' })}\n`
  )
  if (input.outcomeMessage && input.conclusion !== 'success') {
    parts.push(`\n${neutralizeMarkdown(oneLine(input.outcomeMessage, 500))}\n`)
  }
  parts.push('\n')
  const message = finalMessageBlock(input.finalMessage)
  const footer =
    `\n<sub>Workflow <code>${escapeInline(input.workflow)}</code>, job <code>${escapeInline(input.job)}</code>. ` +
    `Each run of it resets the branch <code>${escapeInline(input.branch)}</code> and updates this pull request; ` +
    `commits pushed to that branch by hand are replaced.</sub>\n`
  const used = parts.join('').length + message.length + footer.length
  parts.push(filesTable(input.files, Math.min(12_000, Math.max(0, budget - used))))
  parts.push(message, footer)
  return finish(parts.join(''), limit)
}
