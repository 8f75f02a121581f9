/**
 * Splits a byte stream into lines without ever holding more than a fixed amount of one line.
 *
 * Whatever runs in the container can write to the CLI's stdout and stderr, so a "line" may be
 * gigabytes without a newline. Appending chunks to a string and splitting it again on every chunk
 * is quadratic in time and unbounded in memory (700 MB took over 5 minutes and 1 GB); here each
 * byte is looked at once, a line up to `maxLineBytes` is handed on whole, and a longer one is
 * handed on as its first and last `keepBytes` with its real size.
 */

export interface BoundedLine {
  /** The whole line (without its newline), or, when `cut`, its first bytes. */
  head: Buffer
  /** When `cut`: the line's last bytes. */
  tail?: Buffer
  /** The line's full length in bytes, newline excluded. */
  bytes: number
  /** The line was longer than `maxLineBytes`: only its head and tail were kept. */
  cut: boolean
}

export interface LineLimits {
  /** A line up to this many bytes is handed on whole. */
  maxLineBytes: number
  /** How much of the start and of the end of a longer line is kept. */
  keepBytes: number
}

const NEWLINE = 0x0a

export class BoundedLineSplitter {
  private parts: Buffer[] = []
  private partsBytes = 0
  private lineBytes = 0
  private head?: Buffer
  private tail: Buffer = Buffer.alloc(0)

  constructor(
    private readonly onLine: (line: BoundedLine) => void,
    private readonly limits: LineLimits
  ) {
    if (limits.keepBytes > limits.maxLineBytes) throw new Error('keepBytes exceeds maxLineBytes')
  }

  push(chunk: Uint8Array | string): void {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let start = 0
    while (start < bytes.length) {
      const newline = bytes.indexOf(NEWLINE, start)
      const end = newline === -1 ? bytes.length : newline
      if (end > start) this.append(bytes.subarray(start, end))
      if (newline === -1) break
      this.emit()
      start = newline + 1
    }
  }

  /** Hands on a last line that had no newline. */
  end(): void {
    if (this.lineBytes > 0) this.emit()
  }

  private append(piece: Buffer): void {
    this.lineBytes += piece.length
    if (this.head === undefined) {
      if (this.partsBytes + piece.length <= this.limits.maxLineBytes) {
        this.parts.push(piece)
        this.partsBytes += piece.length
        return
      }
      // Over the limit: from now on only the head (copied once) and a rolling tail are kept.
      const all = [...this.parts, piece]
      this.head = Buffer.concat(all, this.limits.keepBytes)
      this.tail = lastBytes(all, this.limits.keepBytes)
      this.parts = []
      this.partsBytes = 0
      return
    }
    this.tail = lastBytes([this.tail, piece], this.limits.keepBytes)
  }

  private emit(): void {
    if (this.head !== undefined) {
      this.onLine({ head: this.head, tail: this.tail, bytes: this.lineBytes, cut: true })
    } else {
      const whole =
        this.parts.length === 1
          ? (this.parts[0] as Buffer)
          : Buffer.concat(this.parts, this.partsBytes)
      this.onLine({ head: whole, bytes: this.lineBytes, cut: false })
    }
    this.parts = []
    this.partsBytes = 0
    this.lineBytes = 0
    this.head = undefined
    this.tail = Buffer.alloc(0)
  }
}

/** A copy of the last `count` bytes of the buffers taken end to end (a copy: no chunk is retained). */
function lastBytes(buffers: Buffer[], count: number): Buffer {
  const picked: Buffer[] = []
  let need = count
  for (let i = buffers.length - 1; i >= 0 && need > 0; i--) {
    const buffer = buffers[i] as Buffer
    const piece = buffer.length > need ? buffer.subarray(buffer.length - need) : buffer
    picked.unshift(piece)
    need -= piece.length
  }
  return Buffer.concat(picked)
}

/** A byte count for people: 734003200 -> "700.0 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
