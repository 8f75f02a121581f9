import { splitPatch, type PatchSection } from '../report/comment.js'

/**
 * Maps the agent's patch onto a pull request's diff, as GitHub suggested changes (pure, no I/O).
 *
 * The agent worked on a checkout of the pull request's head, so its patch's "old" side is the
 * head: a hunk's old line numbers are head-side line numbers, which is what a review comment's
 * `line`/`start_line` (side RIGHT) name. GitHub accepts a review comment only on a line inside
 * one of the pull request's own hunks (its `patch` in GET /pulls/{n}/files), and a multi-line
 * comment only when both ends are in the same hunk. A suggestion replaces exactly the lines it
 * is on, so every change block becomes "replace head lines S..E with these lines"; a pure
 * insertion is anchored to the line before it (or after it) and repeats that line.
 *
 * What cannot be said that way goes to the review body as the file's diff: new, deleted,
 * renamed, copied and binary files, mode changes, hunks touching lines outside the pull
 * request's diff, changes to the newline at the end of the file, and insertions with no line
 * to anchor to. A hunk is either wholly suggestions or wholly in the body, so the body's diff
 * is made of the patch's own hunks, exactly as git wrote them.
 */

/** One line of a hunk, without its `\n` (a CRLF file's lines keep their `\r`). */
export interface HunkLine {
  kind: ' ' | '-' | '+'
  text: string
  /** Followed by "\ No newline at end of file". */
  noNewline: boolean
}

export interface Hunk {
  oldStart: number
  oldLines: number
  newStart: number
  newLines: number
  lines: HunkLine[]
  /** The hunk exactly as it appears in the patch, header included, ending with '\n'. */
  text: string
}

/** A suggested change: replace head lines startLine..line of `path` with `replacement`. */
export interface Suggestion {
  path: string
  /** First head line replaced (equal to `line` for a single-line suggestion). */
  startLine: number
  line: number
  replacement: string[]
}

/** Why a file, or a hunk of it, is shown in the review body instead of as suggestions. */
export type BodyReason =
  | 'new file'
  | 'deleted file'
  | 'renamed'
  | 'copied'
  | 'binary'
  | 'mode change'
  | 'not in the pull request'
  | 'outside the pull request diff'
  | 'newline at end of file'
  | 'nothing to anchor to'
  | 'too long for a comment'
  | 'too many suggestions'
  | 'changed since the checkout'

export interface BodyPart {
  path: string
  reasons: BodyReason[]
  /** A diff of what is not suggested: the section's header plus the hunks left over. */
  diff: string
  binary: boolean
}

export interface ReviewPlan {
  suggestions: Suggestion[]
  body: BodyPart[]
}

/** A pull request file as GET /pulls/{n}/files describes it. */
export interface PullRequestFile {
  filename: string
  status: string
  /** The file's blob id at the pull request's head. */
  sha?: string
  /** Absent for binary files and diffs GitHub considers too large. */
  patch?: string
}

export interface PlanOptions {
  /** Most suggestions in one review; later hunks go to the body. */
  maxSuggestions?: number
  /** Longest comment body GitHub takes (65,536 characters). */
  maxCommentLength?: number
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/

/** Parses a file section's hunks (everything from the first `@@`). */
export function parseHunks(section: string): Hunk[] {
  const lines = section.split('\n')
  const hunks: Hunk[] = []
  let i = 0
  while (i < lines.length) {
    const header = HUNK_HEADER.exec(lines[i] as string)
    if (!header) {
      i++
      continue
    }
    const hunk: Hunk = {
      oldStart: Number(header[1]),
      oldLines: header[2] === undefined ? 1 : Number(header[2]),
      newStart: Number(header[3]),
      newLines: header[4] === undefined ? 1 : Number(header[4]),
      lines: [],
      text: ''
    }
    const first = i++
    let oldLeft = hunk.oldLines
    let newLeft = hunk.newLines
    // Count lines rather than look for the next header: a removed line may read "-@@ ...".
    while (i < lines.length && (oldLeft > 0 || newLeft > 0 || lines[i]?.startsWith('\\'))) {
      const line = lines[i] as string
      const kind = line.charAt(0)
      if (kind === '\\') {
        const last = hunk.lines[hunk.lines.length - 1]
        if (last) last.noNewline = true
      } else if (kind === ' ' || kind === '-' || kind === '+') {
        hunk.lines.push({ kind, text: line.slice(1), noNewline: false })
        if (kind !== '+') oldLeft--
        if (kind !== '-') newLeft--
      } else if (line === '' && i === lines.length - 1) {
        break // the section's final newline
      } else {
        // git writes an empty context line as ' '; a bare empty line is one some tool trimmed.
        hunk.lines.push({ kind: ' ', text: '', noNewline: false })
        oldLeft--
        newLeft--
      }
      i++
    }
    hunk.text = `${lines.slice(first, i).join('\n')}\n`
    hunks.push(hunk)
  }
  return hunks
}

/** Head-side line ranges of a pull request file's hunks: where review comments may go. */
export function commentableRanges(prPatch: string | undefined): Array<[number, number]> {
  if (!prPatch) return []
  const ranges: Array<[number, number]> = []
  for (const line of prPatch.split('\n')) {
    const m = HUNK_HEADER.exec(line)
    if (!m) continue
    const start = Number(m[3])
    const count = m[4] === undefined ? 1 : Number(m[4])
    if (count > 0) ranges.push([start, start + count - 1])
  }
  return ranges
}

/** The hunk (index into ranges) holding both ends, or -1. */
function hunkHolding(ranges: Array<[number, number]>, start: number, end: number): number {
  return ranges.findIndex(([from, to]) => start >= from && end <= to)
}

/** A run of removed and added lines: replaces head lines [from, to) with `added`. */
interface Block {
  from: number
  to: number
  added: HunkLine[]
  removed: HunkLine[]
}

function blocksOf(hunk: Hunk): { blocks: Block[]; oldText: Map<number, HunkLine> } {
  const blocks: Block[] = []
  const oldText = new Map<number, HunkLine>()
  let old = hunk.oldLines === 0 ? hunk.oldStart + 1 : hunk.oldStart
  let current: Block | undefined
  for (const line of hunk.lines) {
    if (line.kind === ' ') {
      oldText.set(old, line)
      old++
      current = undefined
      continue
    }
    if (!current) {
      current = { from: old, to: old, added: [], removed: [] }
      blocks.push(current)
    }
    if (line.kind === '-') {
      oldText.set(old, line)
      current.removed.push(line)
      old++
      current.to = old
    } else {
      current.added.push(line)
    }
  }
  return { blocks, oldText }
}

/** An edit on head lines [start, end] (inclusive), made of the blocks inside it. */
interface Edit {
  start: number
  end: number
  blocks: Block[]
}

/**
 * The suggestions for one hunk, or why it cannot be suggested. Insertions are anchored to the
 * line before them when that line is in the pull request's diff, else to the line after; edits
 * that then overlap (two insertions around one line) are merged into one.
 */
function suggestHunk(
  path: string,
  hunk: Hunk,
  ranges: Array<[number, number]>,
  maxCommentLength: number
): { suggestions: Suggestion[] } | { reason: BodyReason } {
  const { blocks, oldText } = blocksOf(hunk)
  const edits: Edit[] = []
  for (const block of blocks) {
    const eofBefore = block.removed.some(l => l.noNewline)
    const eofAfter = block.added.some(l => l.noNewline)
    if (eofBefore !== eofAfter) return { reason: 'newline at end of file' }
    if (block.to > block.from) {
      edits.push({ start: block.from, end: block.to - 1, blocks: [block] })
      continue
    }
    const before = block.from - 1
    const after = block.from
    const canBefore = oldText.has(before) && !oldText.get(before)?.noNewline
    const canAfter = oldText.has(after)
    const inDiff = (line: number): boolean => hunkHolding(ranges, line, line) >= 0
    const anchor =
      canBefore && inDiff(before)
        ? before
        : canAfter && inDiff(after)
          ? after
          : canBefore
            ? before
            : canAfter
              ? after
              : undefined
    if (anchor === undefined) return { reason: 'nothing to anchor to' }
    edits.push({ start: anchor, end: anchor, blocks: [block] })
  }
  // Blocks come in order, so only neighbours can overlap.
  const merged: Edit[] = []
  for (const edit of edits) {
    const last = merged[merged.length - 1]
    if (last && edit.start <= last.end) {
      last.end = Math.max(last.end, edit.end)
      last.blocks.push(...edit.blocks)
    } else {
      merged.push({ ...edit, blocks: [...edit.blocks] })
    }
  }
  const suggestions: Suggestion[] = []
  for (const edit of merged) {
    if (hunkHolding(ranges, edit.start, edit.end) < 0) {
      return { reason: 'outside the pull request diff' }
    }
    const replacement: string[] = []
    for (let line = edit.start; line <= edit.end + 1; line++) {
      for (const block of edit.blocks) {
        if (block.from === line) replacement.push(...block.added.map(l => l.text))
      }
      if (line > edit.end) break
      const deleted = edit.blocks.some(b => line >= b.from && line < b.to)
      if (!deleted) replacement.push((oldText.get(line) as HunkLine).text)
    }
    const suggestion = { path, startLine: edit.start, line: edit.end, replacement }
    if (suggestionBody(suggestion).length > maxCommentLength) {
      return { reason: 'too long for a comment' }
    }
    suggestions.push(suggestion)
  }
  return { suggestions }
}

/** The comment body of a suggestion: a fence its content cannot close. */
export function suggestionBody(suggestion: Suggestion): string {
  const content = suggestion.replacement.join('\n')
  let longest = 0
  for (const m of content.matchAll(/`+/g)) longest = Math.max(longest, m[0].length)
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return suggestion.replacement.length === 0
    ? `${fence}suggestion\n${fence}`
    : `${fence}suggestion\n${content}\n${fence}`
}

interface SectionHeader {
  reasons: BodyReason[]
  header: string
  /** The blob the patch was made against (its `index` line). */
  oldBlob?: string
}

function readHeader(section: PatchSection): SectionHeader {
  const end = section.text.search(/^(@@ |GIT binary patch)/m)
  const header = end < 0 ? section.text : section.text.slice(0, end)
  const reasons: BodyReason[] = []
  if (/^new file mode /m.test(header)) reasons.push('new file')
  if (/^deleted file mode /m.test(header)) reasons.push('deleted file')
  if (/^rename from /m.test(header)) reasons.push('renamed')
  if (/^copy from /m.test(header)) reasons.push('copied')
  if (/^old mode /m.test(header)) reasons.push('mode change')
  if (section.binary) reasons.push('binary')
  const index = /^index ([0-9a-f]+)\.\./m.exec(header)
  return { reasons, header, ...(index ? { oldBlob: index[1] as string } : {}) }
}

/**
 * Plans one review for `patch` (the agent's change, relative to the pull request's head) on a
 * pull request whose files are `files`. A file whose blob at the head is not the one the patch
 * was made on goes to the body whole: its line numbers would not fit.
 */
export function planReview(
  patch: string,
  files: readonly PullRequestFile[],
  options: PlanOptions = {}
): ReviewPlan {
  const maxSuggestions = options.maxSuggestions ?? 100
  const maxCommentLength = options.maxCommentLength ?? 65_536
  const byName = new Map(files.map(f => [f.filename, f]))
  const plan: ReviewPlan = { suggestions: [], body: [] }
  for (const section of splitPatch(patch)) {
    const { reasons, header, oldBlob } = readHeader(section)
    const whole = (why: BodyReason[]): void => {
      plan.body.push({
        path: section.path,
        reasons: why,
        diff: section.text,
        binary: section.binary
      })
    }
    // A mode change alone keeps the content hunks suggestible; anything else takes the file.
    const blocking = reasons.filter(r => r !== 'mode change')
    if (blocking.length > 0) {
      whole(reasons)
      continue
    }
    const prFile = byName.get(section.path)
    const hunks = parseHunks(section.text.slice(header.length))
    if (!prFile) {
      if (hunks.length > 0 || reasons.length > 0) whole([...reasons, 'not in the pull request'])
      continue
    }
    // The patch's line numbers are those of the file it was made on; they are the head's only
    // when that is the head's blob (the checkout may be an older head, or a merge commit).
    if (
      prFile.sha &&
      oldBlob &&
      !prFile.sha.startsWith(oldBlob) &&
      !oldBlob.startsWith(prFile.sha)
    ) {
      whole([...reasons, 'changed since the checkout'])
      continue
    }
    const ranges = commentableRanges(prFile.patch)
    const leftover: string[] = []
    const why = new Set<BodyReason>(reasons)
    for (const hunk of hunks) {
      const result = suggestHunk(section.path, hunk, ranges, maxCommentLength)
      if ('reason' in result) {
        leftover.push(hunk.text)
        why.add(result.reason)
      } else if (plan.suggestions.length + result.suggestions.length > maxSuggestions) {
        leftover.push(hunk.text)
        why.add('too many suggestions')
      } else {
        plan.suggestions.push(...result.suggestions)
      }
    }
    if (leftover.length > 0 || reasons.length > 0) {
      plan.body.push({
        path: section.path,
        reasons: [...why],
        diff: header + leftover.join(''),
        binary: false
      })
    }
  }
  return plan
}

/**
 * Applies suggestions to a file's text as GitHub's "Commit suggestions" batch does: each
 * replaces the head lines it names, all against the same head (for tests and for checking a
 * plan before it is posted).
 */
export function applySuggestions(text: string, suggestions: readonly Suggestion[]): string {
  const endsWithNewline = text.endsWith('\n')
  const lines = text === '' ? [] : (endsWithNewline ? text.slice(0, -1) : text).split('\n')
  const ordered = [...suggestions].sort((a, b) => b.startLine - a.startLine)
  for (const s of ordered) lines.splice(s.startLine - 1, s.line - s.startLine + 1, ...s.replacement)
  if (lines.length === 0) return ''
  return lines.join('\n') + (endsWithNewline ? '\n' : '')
}

/** Every file of the patch in the body, as it stands (no suggestions). */
export function wholeFiles(patch: string): ReviewPlan {
  return {
    suggestions: [],
    body: splitPatch(patch).map(section => ({
      path: section.path,
      reasons: [],
      diff: section.text,
      binary: section.binary
    }))
  }
}
