import { createWriteStream, type WriteStream } from 'node:fs'
import { BoundedLineSplitter, formatBytes, type BoundedLine } from '../bounded-lines.js'
import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk'

/** One readable line per assistant text and tool call, as they happen. */
export function describeMessage(message: SDKMessage): string[] {
  const lines: string[] = []
  if (message.type === 'assistant') {
    for (const block of message.message.content) {
      if (block.type === 'text' && block.text.trim() !== '') {
        lines.push(`💬 ${oneLine(block.text, 300)}`)
      } else if (block.type === 'tool_use') {
        lines.push(`🔧 ${block.name}: ${describeToolInput(block.input)}`)
      }
    }
  } else if (message.type === 'user') {
    const content = message.message.content
    if (Array.isArray(content)) {
      for (const block of content) {
        if (
          typeof block === 'object' &&
          block !== null &&
          'type' in block &&
          block.type === 'tool_result' &&
          'is_error' in block &&
          block.is_error
        ) {
          lines.push(`   ↳ tool error: ${oneLine(toolResultText(block.content), 200)}`)
        }
      }
    }
  } else if (message.type === 'system' && message.subtype === 'init') {
    lines.push(
      `▶ Claude Code ${message.claude_code_version ?? ''} started (model ${message.model}, cwd ${message.cwd})`
    )
  } else if (message.type === 'system' && message.subtype === 'api_retry') {
    lines.push(
      `⏳ API error ${message.error_status ?? '(no response)'}: retry ${message.attempt}/${message.max_retries} in ${Math.round(message.retry_delay_ms / 1000)} s`
    )
  } else if (message.type === 'result') {
    lines.push(
      `■ ${message.subtype} after ${message.num_turns} turns, ${(message.duration_ms / 1000).toFixed(1)} s, $${message.total_cost_usd.toFixed(4)}`
    )
  }
  return lines
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map(part =>
        typeof part === 'object' && part !== null && 'text' in part ? String(part.text) : ''
      )
      .join(' ')
  }
  return ''
}

function describeToolInput(input: unknown): string {
  if (typeof input !== 'object' || input === null) return ''
  const record = input as Record<string, unknown>
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'description']) {
    if (typeof record[key] === 'string') return oneLine(record[key], 200)
  }
  return oneLine(JSON.stringify(input), 200)
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

function isMessage(value: unknown): value is SDKMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string'
  )
}

/** A result the outcome can be read from (the fields decideOutcome and the summary use). */
function isResult(message: SDKMessage): message is SDKResultMessage {
  const r = message as Partial<SDKResultMessage>
  return (
    typeof r.subtype === 'string' &&
    typeof r.num_turns === 'number' &&
    typeof r.duration_ms === 'number' &&
    typeof r.total_cost_usd === 'number' &&
    typeof r.usage === 'object' &&
    r.usage !== null
  )
}

/** How much of the CLI's output the host keeps; every figure bounds the action's memory too. */
export interface TranscriptLimits {
  /** A longer line is not parsed: the transcript gets a note with its size, head and tail. */
  maxLineBytes: number
  /** How much of a cut line's start and end the note and the log show. */
  keepBytes: number
  /** The transcript file keeps its first `headBytes` as they arrive... */
  headBytes: number
  /** ...and, past that, its last `tailBytes`, with a note saying what was left out between. */
  tailBytes: number
  /** Lines that are not messages (or were cut) shown in the live log before it only counts them. */
  maxNoiseLines: number
}

/** The CLI's own lines are far smaller (its tool results are truncated at tens of kilobytes). */
export const TRANSCRIPT_LIMITS: TranscriptLimits = {
  maxLineBytes: 8 * 1024 * 1024,
  keepBytes: 2 * 1024,
  headBytes: 64 * 1024 * 1024,
  tailBytes: 32 * 1024 * 1024,
  maxNoiseLines: 100
}

/** The type of the notes the host adds to the transcript (one JSON object a line, like the rest). */
export const CUT_NOTE_TYPE = 'transcript_cut'

/**
 * Reads the CLI's stream-json output: each line goes to the transcript file as it arrives (so a
 * killed run keeps what came before the kill, up to the head's size), readable lines go to the
 * live log, and the last `result` message is kept. Every line is read, whatever the file keeps.
 * Memory and time are linear in the bytes and bounded by the limits, whatever the container
 * writes: see TranscriptLimits.
 */
export class TranscriptReader {
  private readonly file: TranscriptFile
  private readonly lines: BoundedLineSplitter
  private noiseLines = 0
  result?: SDKResultMessage
  sessionId?: string
  lastAssistantText?: string
  messageCount = 0
  /** Lines longer than maxLineBytes (kept as a note, not parsed). */
  cutLines = 0

  constructor(
    readonly path: string,
    private readonly log: (line: string) => void,
    private readonly limits: TranscriptLimits = TRANSCRIPT_LIMITS
  ) {
    this.file = new TranscriptFile(path, limits, log)
    this.lines = new BoundedLineSplitter(line => this.handleLine(line), limits)
  }

  write(chunk: Uint8Array | string): void {
    this.lines.push(chunk)
  }

  private handleLine(bounded: BoundedLine): void {
    if (bounded.cut) {
      this.cutLines++
      const head = bounded.head.toString('utf8')
      const tail = bounded.tail?.toString('utf8') ?? ''
      this.file.writeLine(
        JSON.stringify({
          type: CUT_NOTE_TYPE,
          reason: `a line of ${bounded.bytes} bytes, over the ${this.limits.maxLineBytes}-byte limit; only its head and tail are kept, and it was not read as a message`,
          line_bytes: bounded.bytes,
          head,
          tail
        })
      )
      this.noise(
        `(a line of ${formatBytes(bounded.bytes)}, cut; not read) ${oneLine(head, 200)} … ${oneLine(tail.slice(-100), 100)}`
      )
      return
    }
    const line = bounded.head.toString('utf8').trim()
    if (line === '') return
    this.file.writeLine(line)
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      this.noise(`(not JSON) ${oneLine(line, 300)}`)
      return
    }
    // Anything in the container can write to the CLI's stdout (same uid): a line that is not a
    // well-formed message must not crash the host step, only be logged.
    if (!isMessage(parsed)) {
      this.noise(`(not a message) ${oneLine(line, 300)}`)
      return
    }
    try {
      this.take(parsed)
    } catch {
      this.noise(`(unreadable message) ${oneLine(line, 300)}`)
    }
  }

  /** Logs a line that is not a message, until there were too many to be worth reading. */
  private noise(text: string): void {
    this.noiseLines++
    if (this.noiseLines <= this.limits.maxNoiseLines) this.log(text)
    else if (this.noiseLines === this.limits.maxNoiseLines + 1)
      this.log(
        `(more lines that are not messages follow; they are counted, not shown: see the transcript)`
      )
  }

  private take(message: SDKMessage): void {
    this.messageCount++
    if ('session_id' in message && typeof message.session_id === 'string')
      this.sessionId = message.session_id
    if (message.type === 'result' && isResult(message)) this.result = message
    if (message.type === 'assistant') {
      const text = message.message.content
        .filter(block => block.type === 'text')
        .map(block => (block.type === 'text' ? block.text : ''))
        .join('\n')
        .trim()
      if (text !== '') this.lastAssistantText = text
    }
    for (const readable of describeMessage(message)) this.log(readable)
  }

  /** Flushes a last line without newline and closes the file. */
  async close(): Promise<void> {
    this.lines.end()
    if (this.noiseLines > this.limits.maxNoiseLines)
      this.log(`(${this.noiseLines} lines in all were not messages)`)
    await this.file.close()
  }
}

/**
 * The transcript file: its first `headBytes` written as they come, then a ring of the last
 * `tailBytes` in memory, written at close after a note saying how much was left out. Lines are
 * never split: a line that does not fit the head goes to the tail, and a tail that wrapped starts
 * at its first whole line. A write error (a full disk) is reported once and ends the writing; the
 * run goes on.
 */
class TranscriptFile {
  private readonly stream: WriteStream
  private headLeft: number
  private ring?: Buffer
  private ringStart = 0
  private ringLength = 0
  private tailBytesSeen = 0
  private tailLinesSeen = 0
  private failed = false

  constructor(
    path: string,
    private readonly limits: TranscriptLimits,
    private readonly log: (line: string) => void
  ) {
    this.headLeft = limits.headBytes
    this.stream = createWriteStream(path, { flags: 'a' })
    this.stream.on('error', (error: Error) => {
      if (this.failed) return
      this.failed = true
      this.log(`Could not write the transcript ${path}: ${error.message}; what follows is not kept`)
    })
  }

  writeLine(line: string): void {
    if (this.failed) return
    const bytes = Buffer.from(`${line}\n`)
    if (this.ring === undefined && bytes.length <= this.headLeft) {
      this.headLeft -= bytes.length
      this.stream.write(bytes)
      return
    }
    this.ring ??= Buffer.allocUnsafe(this.limits.tailBytes)
    this.tailBytesSeen += bytes.length
    this.tailLinesSeen++
    this.toRing(bytes)
  }

  private toRing(bytes: Buffer): void {
    const ring = this.ring as Buffer
    const size = ring.length
    if (bytes.length >= size) {
      bytes.copy(ring, 0, bytes.length - size)
      this.ringStart = 0
      this.ringLength = size
      return
    }
    const end = (this.ringStart + this.ringLength) % size
    const first = Math.min(bytes.length, size - end)
    bytes.copy(ring, end, 0, first)
    if (first < bytes.length) bytes.copy(ring, 0, first)
    const overflow = this.ringLength + bytes.length - size
    if (overflow > 0) {
      this.ringStart = (this.ringStart + overflow) % size
      this.ringLength = size
    } else this.ringLength += bytes.length
  }

  /** The tail in order, starting at a whole line. */
  private tail(): Buffer {
    const ring = this.ring as Buffer
    const ordered =
      this.ringStart + this.ringLength <= ring.length
        ? ring.subarray(this.ringStart, this.ringStart + this.ringLength)
        : Buffer.concat([
            ring.subarray(this.ringStart),
            ring.subarray(0, (this.ringStart + this.ringLength) % ring.length)
          ])
    if (this.ringLength === this.tailBytesSeen) return ordered
    const firstLine = ordered.indexOf(0x0a)
    return firstLine === -1 ? Buffer.alloc(0) : ordered.subarray(firstLine + 1)
  }

  async close(): Promise<void> {
    if (this.ring !== undefined && !this.failed) {
      const tail = this.tail()
      const keptLines = countNewlines(tail)
      const omittedBytes = this.tailBytesSeen - tail.length
      const omittedLines = this.tailLinesSeen - keptLines
      if (omittedLines > 0) {
        const note = {
          type: CUT_NOTE_TYPE,
          reason: `the transcript is over ${this.limits.headBytes + this.limits.tailBytes} bytes: its first ${this.limits.headBytes} and last ${this.limits.tailBytes} bytes are kept, ${omittedLines} lines (${omittedBytes} bytes) between them were left out`,
          omitted_lines: omittedLines,
          omitted_bytes: omittedBytes
        }
        this.stream.write(`${JSON.stringify(note)}\n`)
        this.log(
          `The transcript was cut: ${omittedLines} lines (${formatBytes(omittedBytes)}) in its middle were left out`
        )
      }
      this.stream.write(tail)
    }
    if (this.stream.closed) return
    await new Promise<void>(resolve => {
      this.stream.once('close', resolve)
      this.stream.end()
    })
  }
}

function countNewlines(buffer: Buffer): number {
  let count = 0
  for (let at = buffer.indexOf(0x0a); at !== -1; at = buffer.indexOf(0x0a, at + 1)) count++
  return count
}
