import { createWriteStream, type WriteStream } from 'node:fs'
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

/**
 * Reads the CLI's stream-json output: every line goes to the transcript file as it arrives (so a
 * killed run keeps everything up to the kill), readable lines go to the live log, and the last
 * `result` message is kept.
 */
export class TranscriptReader {
  private readonly file: WriteStream
  private pending = ''
  result?: SDKResultMessage
  sessionId?: string
  lastAssistantText?: string
  messageCount = 0

  constructor(
    readonly path: string,
    private readonly log: (line: string) => void
  ) {
    this.file = createWriteStream(path, { flags: 'a' })
  }

  write(chunk: string): void {
    this.pending += chunk
    const lines = this.pending.split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) this.handleLine(line)
  }

  private handleLine(raw: string): void {
    const line = raw.trim()
    if (line === '') return
    this.file.write(`${line}\n`)
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      this.log(`(not JSON) ${oneLine(line, 300)}`)
      return
    }
    // Anything in the container can write to the CLI's stdout (same uid): a line that is not a
    // well-formed message must not crash the host step, only be logged.
    if (!isMessage(parsed)) {
      this.log(`(not a message) ${oneLine(line, 300)}`)
      return
    }
    try {
      this.take(parsed)
    } catch {
      this.log(`(unreadable message) ${oneLine(line, 300)}`)
    }
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
    if (this.pending !== '') this.handleLine(this.pending)
    this.pending = ''
    await new Promise<void>(resolve => this.file.end(resolve))
  }
}
