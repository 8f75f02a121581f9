/**
 * Reads the usage of Messages responses as they pass through the gateway, without holding them
 * back: the gateway forwards every chunk at once and gives a copy to a tap. A streamed response's
 * usage is in its `message_start` and `message_delta` events (the delta's figures are cumulative
 * and win); a JSON response carries `usage` in its body. Only those small events are parsed; the
 * content deltas are skipped by a byte scan, so a tap costs little and its memory is bounded.
 */
import type { Usage } from './pricing.js'

export interface ResponseReading {
  model?: string
  usage?: Usage
  stopReason?: string
}

export interface ResponseTap {
  push(chunk: Buffer): void
  /** What was read, once the response has ended (or broken off). */
  finish(): ResponseReading
}

/** Longest SSE line kept to be parsed; message_start/message_delta lines are far smaller. */
const MAX_EVENT_LINE = 1024 * 1024
/** Largest JSON body parsed whole; beyond it only its tail is searched for `usage`. */
const MAX_JSON_BODY = 16 * 1024 * 1024
const TAIL_BYTES = 64 * 1024

export function tapFor(contentType: string): ResponseTap {
  return /text\/event-stream/i.test(contentType) ? new SseTap() : new JsonTap()
}

/**
 * A tap for Messages stream events that arrive one by one already framed (Bedrock's event stream
 * carries each as JSON): the same reading as the server-sent events' tap.
 */
export function eventsTap(): { event(json: Buffer): void; finish(): ResponseReading } {
  const tap = new SseTap()
  const prefix = Buffer.from('data: ')
  const newline = Buffer.from('\n')
  return {
    event: json => tap.push(Buffer.concat([prefix, json, newline])),
    finish: () => tap.finish()
  }
}

function merge(reading: ResponseReading, usage: unknown): void {
  if (typeof usage !== 'object' || usage === null) return
  reading.usage = { ...reading.usage, ...(usage as Usage) }
}

class SseTap implements ResponseTap {
  private readonly reading: ResponseReading = {}
  private pending: Buffer[] = []
  private pendingBytes = 0
  private skipping = false
  private event = ''

  push(chunk: Buffer): void {
    let start = 0
    for (;;) {
      const newline = chunk.indexOf(10, start)
      if (newline === -1) {
        this.keep(chunk.subarray(start))
        return
      }
      this.keep(chunk.subarray(start, newline))
      this.line()
      start = newline + 1
    }
  }

  private keep(part: Buffer): void {
    if (this.skipping || part.length === 0) return
    if (this.pendingBytes + part.length > MAX_EVENT_LINE) {
      // A content delta too long to be a usage event: skip the rest of this line.
      this.skipping = true
      this.pending = []
      this.pendingBytes = 0
      return
    }
    this.pending.push(part)
    this.pendingBytes += part.length
  }

  private line(): void {
    const skipped = this.skipping
    const line = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending)
    this.pending = []
    this.pendingBytes = 0
    this.skipping = false
    if (skipped || line === undefined) return
    // Cheap byte checks first: most lines are content deltas nobody here needs.
    if (line.length > 6 && line.toString('latin1', 0, 6) === 'event:') {
      this.event = line.toString('utf8', 6).trim()
      return
    }
    if (line.length < 6 || line.toString('latin1', 0, 5) !== 'data:') return
    const interesting =
      this.event === 'message_start' ||
      this.event === 'message_delta' ||
      (this.event === '' && line.indexOf('"message_') !== -1)
    if (!interesting) return
    let data: unknown
    try {
      data = JSON.parse(line.toString('utf8', 5))
    } catch {
      return
    }
    if (typeof data !== 'object' || data === null) return
    const event = data as {
      type?: unknown
      message?: { model?: unknown; usage?: unknown }
      delta?: { stop_reason?: unknown }
      usage?: unknown
    }
    if (event.type === 'message_start' && event.message) {
      if (typeof event.message.model === 'string') this.reading.model = event.message.model
      merge(this.reading, event.message.usage)
    } else if (event.type === 'message_delta') {
      if (typeof event.delta?.stop_reason === 'string') {
        this.reading.stopReason = event.delta.stop_reason
      }
      merge(this.reading, event.usage)
    }
  }

  finish(): ResponseReading {
    if (this.pendingBytes > 0) this.line()
    return this.reading
  }
}

class JsonTap implements ResponseTap {
  private chunks: Buffer[] = []
  private bytes = 0
  private tail = Buffer.alloc(0)

  push(chunk: Buffer): void {
    this.bytes += chunk.length
    if (this.bytes <= MAX_JSON_BODY) {
      this.chunks.push(chunk)
      return
    }
    if (this.chunks.length > 0) {
      this.tail = Buffer.concat(this.chunks).subarray(-TAIL_BYTES)
      this.chunks = []
    }
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-TAIL_BYTES)
  }

  finish(): ResponseReading {
    const reading: ResponseReading = {}
    if (this.chunks.length > 0) {
      try {
        const body = JSON.parse(Buffer.concat(this.chunks).toString('utf8')) as {
          model?: unknown
          usage?: unknown
          stop_reason?: unknown
        }
        if (typeof body.model === 'string') reading.model = body.model
        if (typeof body.stop_reason === 'string') reading.stopReason = body.stop_reason
        merge(reading, body.usage)
      } catch {
        // Not JSON (an error page): no usage to read.
      }
      return reading
    }
    // A body too large to parse: its usage object is near the end.
    const text = this.tail.toString('utf8')
    const found = /"usage"\s*:\s*(\{(?:[^{}]|\{[^{}]*\})*\})/g
    let last: string | undefined
    for (let match = found.exec(text); match; match = found.exec(text)) last = match[1]
    if (last) {
      try {
        merge(reading, JSON.parse(last))
      } catch {
        // Cut in the middle: no usage.
      }
    }
    return reading
  }
}
