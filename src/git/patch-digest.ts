import { createReadStream } from 'node:fs'
import { parseLeftOutLine, type LeftOutFile } from './patch-preamble.js'

/**
 * What the comment and the summary need of a patch, read in one streaming pass with bounded
 * memory: per file its header and the first bytes of its diff, its total size, and whether it
 * is binary; the files the preamble says were left out; and the whole patch only when it is
 * small. A patch of any size costs a few MiB here, never a string of its size.
 */

export interface DigestSection {
  /** The path after the change, read from the header ('' when it could not be read). */
  path: string
  /** The section's first bytes (whole when `cut` is false), as UTF-8 text. */
  text: string
  /** The section's size in the patch, in bytes. */
  bytes: number
  /** True when `text` is only a prefix. */
  cut: boolean
  /** A `GIT binary patch` or `Binary files … differ` section. */
  binary: boolean
  /** Only the header was kept (the budget for all diffs was spent): name it, do not show it. */
  headerOnly: boolean
}

export interface PatchDigest {
  sections: DigestSection[]
  /** Files createPatch left out (from the preamble). */
  leftOut: LeftOutFile[]
  /** The patch's size in bytes. */
  bytes: number
  /** The whole patch, when it is at most `wholeBytes`. */
  whole?: string
}

export interface DigestLimits {
  /** Bytes kept of each file's diff. */
  sectionBytes: number
  /** Bytes kept of all diffs together; past it, only headers are kept. */
  totalBytes: number
  /** Largest patch kept whole. */
  wholeBytes: number
}

/** Enough for a summary (GitHub keeps 1 MiB of it) and a comment (65,536 characters). */
export const DEFAULT_DIGEST_LIMITS: DigestLimits = {
  sectionBytes: 64 * 1024,
  totalBytes: 1024 * 1024,
  wholeBytes: 900_000
}

/**
 * A header (everything before the first hunk) is kept up to this, whatever the diff budget: it
 * names the file, and a long name appears four times, C-quoted. Past HEADERS_TOTAL_MAX of kept
 * headers (a hostile tree of 100,000 long names) each gets HEADER_MIN.
 */
const HEADER_MAX = 16 * 1024
const HEADER_MIN = 1024
const HEADERS_TOTAL_MAX = 16 * 1024 * 1024
const DIFF_HEADER = Buffer.from('diff --git ')
const NEWLINE = 0x0a

interface OpenSection {
  chunks: Buffer[]
  kept: number
  bytes: number
  /** Still inside the header: no hunk or binary marker seen yet. */
  inHeader: boolean
  budget: number
  headerMax: number
}

/** Incremental reader: push the patch's bytes in any chunks, then call finish. */
export class PatchDigester {
  private readonly sections: DigestSection[] = []
  private readonly leftOut: LeftOutFile[] = []
  private readonly preamble: Buffer[] = []
  private preambleBytes = 0
  private current: OpenSection | undefined
  private total = 0
  private keptTotal = 0
  private headersTotal = 0
  private whole: Buffer[] | undefined = []
  /** The first bytes of the line being read (fewer than a header's), held until it is known. */
  private lineHead = Buffer.alloc(0)
  private atLineStart = true

  constructor(private readonly limits: DigestLimits = DEFAULT_DIGEST_LIMITS) {}

  push(chunk: Buffer): void {
    this.total += chunk.length
    if (this.whole) {
      if (this.total <= this.limits.wholeBytes) this.whole.push(chunk)
      else this.whole = undefined
    }
    let start = 0
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start)
      const end = newline === -1 ? chunk.length : newline + 1
      this.take(chunk.subarray(start, end), newline !== -1)
      start = end
    }
  }

  finish(): PatchDigest {
    if (this.lineHead.length > 0) {
      const held = this.lineHead
      this.lineHead = Buffer.alloc(0)
      this.append(held)
    }
    this.close()
    this.readPreamble()
    const digest: PatchDigest = {
      sections: this.sections,
      leftOut: this.leftOut,
      bytes: this.total
    }
    if (this.whole) digest.whole = Buffer.concat(this.whole).toString('utf8')
    return digest
  }

  /** One piece of a line (the whole line, or part of it when it spans chunks). */
  private take(piece: Buffer, endsLine: boolean): void {
    if (this.atLineStart) {
      // Undecided until the line's first bytes are in: held back, then sent where they belong.
      this.lineHead = Buffer.concat([this.lineHead, piece])
      if (this.lineHead.length < DIFF_HEADER.length && !endsLine) return
      const held = this.lineHead
      this.lineHead = Buffer.alloc(0)
      this.atLineStart = false
      if (held.subarray(0, DIFF_HEADER.length).equals(DIFF_HEADER)) this.open()
      this.append(held)
    } else {
      this.append(piece)
    }
    if (endsLine) this.atLineStart = true
  }

  private open(): void {
    this.close()
    const budget = Math.min(
      this.limits.sectionBytes,
      Math.max(0, this.limits.totalBytes - this.keptTotal)
    )
    const headerMax = this.headersTotal < HEADERS_TOTAL_MAX ? HEADER_MAX : HEADER_MIN
    this.current = { chunks: [], kept: 0, bytes: 0, inHeader: true, budget, headerMax }
  }

  private append(piece: Buffer): void {
    const section = this.current
    if (!section) {
      // Before the first header: the preamble. Only its first bytes matter.
      if (this.preambleBytes < this.limits.sectionBytes) {
        this.preamble.push(piece.subarray(0, this.limits.sectionBytes - this.preambleBytes))
        this.preambleBytes += piece.length
      }
      return
    }
    section.bytes += piece.length
    const room = Math.max(section.budget, section.inHeader ? section.headerMax : 0) - section.kept
    if (room > 0) {
      const kept = piece.subarray(0, room)
      section.chunks.push(kept)
      section.kept += kept.length
      if (
        section.inHeader &&
        /^(@@ |GIT binary patch|Binary files )/.test(kept.toString('latin1'))
      ) {
        section.inHeader = false
      }
    }
  }

  private close(): void {
    const section = this.current
    if (!section) return
    this.current = undefined
    this.keptTotal += Math.min(section.kept, section.budget)
    this.headersTotal += Math.max(0, section.kept - section.budget)
    let text = Buffer.concat(section.chunks).toString('utf8')
    const cut = section.kept < section.bytes
    // A cut prefix ends at a line end (and so never inside a multi-byte character).
    if (cut) text = text.slice(0, text.lastIndexOf('\n') + 1)
    this.sections.push({
      path: sectionPath(text),
      text,
      bytes: section.bytes,
      cut,
      binary: /^(GIT binary patch|Binary files .* differ)$/m.test(text),
      headerOnly: cut && section.budget === 0
    })
  }

  private readPreamble(): void {
    const text = Buffer.concat(this.preamble).toString('utf8')
    for (const line of text.split('\n')) {
      const file = parseLeftOutLine(line)
      if (file) this.leftOut.push(file)
    }
  }
}

/** Reads a patch file in one streaming pass. A missing file reads as an empty patch. */
export async function readPatchDigest(
  patchPath: string,
  limits: DigestLimits = DEFAULT_DIGEST_LIMITS
): Promise<PatchDigest> {
  const digester = new PatchDigester(limits)
  try {
    for await (const chunk of createReadStream(patchPath, { highWaterMark: 256 * 1024 })) {
      digester.push(chunk as Buffer)
    }
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  return digester.finish()
}

/** The same digest of a patch already in memory (tests, and callers that hold the text). */
export function digestPatchText(
  patch: string,
  limits: DigestLimits = DEFAULT_DIGEST_LIMITS
): PatchDigest {
  const digester = new PatchDigester(limits)
  digester.push(Buffer.from(patch, 'utf8'))
  return digester.finish()
}

/** The new path of a section, read from the lines git writes unambiguously. */
export function sectionPath(section: string): string {
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
