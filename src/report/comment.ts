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

import {
  digestPatchText,
  sectionPath,
  unquote,
  type DigestSection,
  type PatchDigest
} from '../git/patch-digest.js'
import { formatSize, type LeftOutFile } from '../git/patch-preamble.js'

export { unquote }

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

/** Longest diff of one file in a comment: past it the file's diff is cut, so others fit too. */
const COMMENT_FILE_MAX = 16_000

/** Longest excerpt of a .gitattributes change in the call-out at the top. */
const ATTRIBUTES_CALLOUT_MAX = 3_000

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

/** The run's figures, as the gateway counted them; each shown only when known. */
export interface RunFigures {
  numTurns?: number
  durationMs?: number
  costUsd?: number
  inputTokens?: number
  outputTokens?: number
}

/** Where a reader finds the run and its artifact. */
export interface RunLinks {
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
}

export interface CommentInput extends RunFigures, RunLinks {
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
  /** The patch read with bounded memory (readPatchDigest); used instead of `patch` when given. */
  digest?: PatchDigest
  finalMessage?: string
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

function diffBlock(file: CommentFile | undefined, section: DigestSection, max: number): string {
  const path = file?.path ?? section.path
  const counts = file ? ` (+${file.insertions} −${file.deletions})` : ''
  const summary = `<code>${escapeInline(path)}</code>${counts}`
  if (section.binary || file?.binary) {
    const size = file?.size !== undefined ? `, ${plural(file.size, 'byte')}` : ''
    return `<details><summary>${summary}</summary>\n\nBinary file ${file?.status ?? 'changed'}${size}; apply the patch to see it.\n\n</details>\n`
  }
  let content =
    section.text.endsWith('\n') || section.text === '' ? section.text : `${section.text}\n`
  let cut = section.cut
  if (content.length > max) {
    content = truncateUtf16(content, max)
    content = content.slice(0, content.lastIndexOf('\n') + 1)
    cut = true
  }
  const fence = fenceFor(content)
  const note = cut
    ? `_(cut: the file's diff is ${plural(section.bytes, 'byte')}; the whole of it is in the patch)_\n\n`
    : ''
  return `<details><summary>${summary}</summary>\n\n${fence}diff\n${content}${fence}\n\n${note}</details>\n`
}

/** True for a `.gitattributes` at any depth (the name as Windows and macOS would fold it too). */
function isAttributesFile(filePath: string): boolean {
  const name = (filePath.split(/[/\\]/).at(-1) ?? '').toLowerCase().replace(/[. ]+$/, '')
  return name === '.gitattributes'
}

/**
 * The call-out at the top when the change edits a `.gitattributes`: attributes decide how git
 * and GitHub show (`-diff`, `binary`, `linguist-generated`), convert (`text`, `eol`, `filter`)
 * and merge files, so a reviewer must see what they become. Only the added and removed lines.
 */
export function attributesCallout(
  sections: readonly DigestSection[],
  changedPaths: readonly string[] = [],
  max = ATTRIBUTES_CALLOUT_MAX
): string {
  const changed = sections.filter(section => isAttributesFile(section.path))
  // The file list names every change even when a section's header could not be read.
  const unread = changedPaths.filter(
    p => isAttributesFile(p) && !changed.some(section => section.path === p)
  )
  if (changed.length === 0 && unread.length === 0) return ''
  const names = [...changed.map(section => section.path), ...unread]
    .map(name => `<code>${escapeInline(name)}</code>`)
    .join(', ')
  const lines: string[] = []
  for (const section of changed) {
    const body = section.text.slice(Math.max(0, section.text.search(/^@@ /m)))
    const edits = body
      .split('\n')
      .filter(line => /^[+-]/.test(line) && !/^(\+\+\+|---) /.test(line))
    lines.push(
      `# ${JSON.stringify(section.path)}`,
      ...(edits.length > 0 ? edits : ['(no line changes: mode, rename or deletion)'])
    )
    if (section.cut) lines.push('# … (cut; the whole change is in the patch)')
  }
  for (const name of unread) lines.push(`# ${JSON.stringify(name)}: see the patch`)
  let text = lines.join('\n')
  if (text.length > max) {
    text = `${truncateUtf16(text, max).replace(/\n[^\n]*$/, '')}\n# … (more in the patch)`
  }
  const fence = fenceFor(text)
  return (
    `> [!CAUTION]\n> **This change edits ${names}.** Attributes decide how git and GitHub show files ` +
    '(`-diff` and `binary` hide their lines, `linguist-generated` folds them away in pull requests), ' +
    'convert them (`text`, `eol`, `filter`) and merge them. The diffs here are computed from content, ' +
    'whatever the attributes say. What changes:\n\n' +
    `${fence}diff\n${text}\n${fence}\n\n`
  )
}

/** The files createPatch left out for their size, and how to get them. */
export function leftOutFilesBlock(files: readonly LeftOutFile[], maxItems = 30): string {
  if (files.length === 0) return ''
  const items = files
    .slice(0, maxItems)
    .map(file => `- <code>${escapeInline(file.path)}</code> (${formatSize(file.size)})`)
  if (files.length > maxItems) items.push(`- … and ${plural(files.length - maxItems, 'more file')}`)
  return (
    `> [!WARNING]\n> **${plural(files.length, 'file')} left out of the patch** for ${files.length === 1 ? 'its' : 'their'} size ` +
    '(over `max-file-size`); nothing else of the change is affected. To publish one, commit it yourself, ' +
    'or raise `max-file-size`.\n\n' +
    `${items.join('\n')}\n\n`
  )
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

function whereIsThePatch(input: CommentInput, digest: PatchDigest): string {
  const run = input.runUrl ? `[the workflow run](${input.runUrl})` : 'the workflow run'
  const name = input.artifactName ? `<code>${escapeInline(input.artifactName)}</code> ` : ''
  const artifact = input.artifactUrl
    ? `[the ${name}artifact](${input.artifactUrl})`
    : `its ${name}artifact${name ? '' : 's'}`
  return digest.whole !== undefined
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

/** Bytes of diffs the summary shows per file, and in all, when the patch is too large whole. */
const SUMMARY_FILE_MAX = 64 * 1024
const SUMMARY_DIFFS_MAX = 800_000
const SUMMARY_NAMES_MAX = 200

/**
 * The patch for the job summary: whole, in a fence its content cannot close, when it fits;
 * otherwise each file's diff cut to its first 64 KiB while 800 KB last, and the rest named.
 * Takes the patch's digest (readPatchDigest), so a patch of any size is never one string.
 */
export function renderPatchSummary(
  patch: string | PatchDigest,
  artifactName?: string,
  artifactUrl?: string
): string {
  const digest = typeof patch === 'string' ? digestPatchText(patch) : patch
  if (digest.bytes === 0) return ''
  const name = artifactName ? `<code>${escapeInline(artifactName)}</code> ` : ''
  const where = artifactUrl
    ? `[the ${name}artifact](${artifactUrl})`
    : name
      ? `the ${name}artifact`
      : 'the run’s artifacts'
  if (digest.whole !== undefined && digest.bytes <= SUMMARY_PATCH_MAX_BYTES) {
    const content = digest.whole.endsWith('\n') ? digest.whole : `${digest.whole}\n`
    const fence = fenceFor(content)
    return `<details><summary>The whole patch (apply with <code>git apply --binary</code>)</summary>\n\n${fence}diff\n${content}${fence}\n\n</details>\n`
  }
  let out = `The patch (${plural(digest.bytes, 'byte')}) is too large to show whole here; it is in ${where}. Each file’s diff below is cut to its first ${SUMMARY_FILE_MAX / 1024} KiB.\n\n`
  let used = 0
  const unshown: string[] = []
  for (const section of digest.sections) {
    if (used >= SUMMARY_DIFFS_MAX || (section.headerOnly && !section.binary)) {
      unshown.push(section.path)
      continue
    }
    const block = diffBlock(
      undefined,
      section,
      Math.min(SUMMARY_FILE_MAX, SUMMARY_DIFFS_MAX - used)
    )
    used += block.length
    out += block
  }
  if (unshown.length > 0) {
    const names = unshown
      .slice(0, SUMMARY_NAMES_MAX)
      .map(name => `<code>${escapeInline(name)}</code>`)
      .join(', ')
    const more =
      unshown.length > SUMMARY_NAMES_MAX
        ? ` and ${plural(unshown.length - SUMMARY_NAMES_MAX, 'more file')}`
        : ''
    out += `\n${plural(unshown.length, 'more file')} not shown here: ${names}${more}.\n`
  }
  return out
}

function leftOutBlock(
  input: CommentInput,
  digest: PatchDigest,
  leftOut: CommentFile[],
  budget: number
): string {
  if (leftOut.length === 0) return ''
  let text = `**${plural(leftOut.length, 'file')} not shown here**: ${
    leftOut.length === input.files.length ? 'the diff is' : 'their diffs are'
  } too long for a GitHub comment (${COMMENT_LIMIT.toLocaleString('en-US')} characters). ${whereIsThePatch(input, digest)}\n\n`
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
  const digest = input.digest ?? digestPatchText(input.patch)
  // What a reviewer must not miss comes first: attribute edits and files left out for size.
  const header =
    headerBlock(input) +
    '\n' +
    attributesCallout(
      digest.sections,
      input.files.flatMap(f => (f.oldPath === undefined ? [f.path] : [f.path, f.oldPath]))
    ) +
    leftOutFilesBlock(digest.leftOut)
  const message = finalMessageBlock(input.finalMessage)
  const apply = input.files.length > 0 ? applyBlock(input) : ''
  const fixed = header.length + message.length + apply.length
  const table = filesTable(input.files, Math.min(12_000, Math.max(0, (budget - fixed) / 3)))

  let body = `${header}${table}${message}`
  if (input.files.length === 0) {
    body += '_The agent left the repository unchanged._\n'
    return finish(body, limit)
  }

  const sections = digest.sections
  const byPath = new Map(input.files.map(f => [f.path, f]))
  const diffBudget = budget - body.length - apply.length - LEFT_OUT_RESERVE - 40
  let diffs = ''
  const shown = new Set<string>()
  for (const section of sections) {
    const room = Math.min(COMMENT_FILE_MAX, diffBudget - diffs.length - 400)
    // Too little room left for a useful excerpt, or nothing kept to show: the file is listed.
    if (section.headerOnly && !section.binary) continue
    if (!section.binary && room < Math.min(2_000, section.text.length + 1)) continue
    const block = diffBlock(byPath.get(section.path), section, Math.max(0, room))
    if (diffs.length + block.length <= diffBudget) {
      diffs += block
      shown.add(section.path)
    }
  }
  const leftOut = input.files.filter(f => !shown.has(f.path))
  if (diffs !== '') body += `#### Changes\n\n${diffs}\n`
  body += leftOutBlock(input, digest, leftOut, LEFT_OUT_RESERVE)
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
  // GitHub's own diff view honours .gitattributes (`-diff`, `linguist-generated`): say so here.
  if (input.digest) {
    const changedPaths = input.files.map(f => f.path)
    parts.push(
      attributesCallout(input.digest.sections, changedPaths) +
        leftOutFilesBlock(input.digest.leftOut)
    )
  }
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
