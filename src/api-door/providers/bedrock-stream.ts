/**
 * Reads the usage of Bedrock's streamed answers (`application/vnd.amazon.eventstream`): binary
 * frames, each decoded with the AWS SDK's own event-stream codec (it checks both CRCs); a
 * `chunk` event's body is `{"bytes": base64(one Anthropic stream event)}`, and those events are
 * read exactly as the Messages API's server-sent events are (usage-meter.ts). Frames are taken
 * as they arrive, whatever the chunking; memory is bounded by the largest frame.
 */
import { EventStreamCodec } from '@smithy/core/event-streams'
import { fromUtf8, toUtf8 } from '@smithy/util-utf8'
import { eventsTap, type ResponseReading, type ResponseTap } from '../usage-meter.js'

/** A frame larger than this is not Bedrock's: stop reading (the bytes still pass through). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024

const codec = new EventStreamCodec(toUtf8, fromUtf8)

export class EventStreamTap implements ResponseTap {
  private readonly events = eventsTap()
  private pending: Buffer[] = []
  private pendingBytes = 0
  private broken = false

  push(chunk: Buffer): void {
    if (this.broken) return
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes < 4) return
    let buffer = this.pending.length === 1 ? chunk : Buffer.concat(this.pending)
    let offset = 0
    while (buffer.length - offset >= 4) {
      const total = buffer.readUInt32BE(offset)
      if (total < 16 || total > MAX_FRAME_BYTES) {
        this.broken = true
        break
      }
      if (buffer.length - offset < total) break
      this.frame(buffer.subarray(offset, offset + total))
      offset += total
      if (this.broken) break
    }
    buffer = buffer.subarray(offset)
    this.pending = buffer.length > 0 && !this.broken ? [buffer] : []
    this.pendingBytes = this.pending.length > 0 ? buffer.length : 0
  }

  private frame(bytes: Buffer): void {
    let message: ReturnType<typeof codec.decode>
    try {
      message = codec.decode(bytes)
    } catch {
      this.broken = true
      return
    }
    if (message.headers[':message-type']?.value !== 'event') return
    if (message.headers[':event-type']?.value !== 'chunk') return
    let encoded: unknown
    try {
      encoded = (JSON.parse(toUtf8(message.body)) as { bytes?: unknown }).bytes
    } catch {
      return
    }
    if (typeof encoded !== 'string') return
    this.events.event(Buffer.from(encoded, 'base64'))
  }

  finish(): ResponseReading {
    return this.events.finish()
  }
}
