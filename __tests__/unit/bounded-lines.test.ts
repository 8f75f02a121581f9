import { describe, expect, it } from '@jest/globals'
import { BoundedLineSplitter, formatBytes, type BoundedLine } from '../../src/bounded-lines.js'

function split(chunks: Array<string | Buffer>, maxLineBytes = 16, keepBytes = 4): BoundedLine[] {
  const lines: BoundedLine[] = []
  const splitter = new BoundedLineSplitter(line => lines.push(line), { maxLineBytes, keepBytes })
  for (const chunk of chunks) splitter.push(chunk)
  splitter.end()
  return lines
}

describe('BoundedLineSplitter', () => {
  it('hands on whole lines across chunk boundaries, multi-byte characters intact', () => {
    const lines = split([
      Buffer.from('ab'),
      Buffer.from('c\nü').subarray(0, 3),
      Buffer.from([0xbc]),
      '\n\nlast'
    ])
    expect(lines.map(line => line.head.toString('utf8'))).toEqual(['abc', 'ü', '', 'last'])
    expect(lines.every(line => !line.cut)).toBe(true)
    expect(lines.map(line => line.bytes)).toEqual([3, 2, 0, 4])
  })

  it('cuts a line over the limit to its head and tail, with its real size', () => {
    const lines = split(['0123456789', 'abcdefghij', 'ABCDEFGHIJ\nok\n'])
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ cut: true, bytes: 30 })
    expect(lines[0]?.head.toString()).toBe('0123')
    expect(lines[0]?.tail?.toString()).toBe('GHIJ')
    expect(lines[1]).toMatchObject({ cut: false, bytes: 2 })
  })

  it('keeps a tail that spans chunks smaller than the kept size', () => {
    const lines = split(['x'.repeat(20), 'a', 'b', 'c', 'd', 'e\n'])
    expect(lines[0]?.tail?.toString()).toBe('bcde')
  })

  it('does not keep the chunks of a cut line alive (the head and tail are copies)', () => {
    const big = Buffer.alloc(1024, 'z')
    const lines = split([big, '\n'], 16, 4)
    expect(lines[0]?.head.buffer).not.toBe(big.buffer)
    expect(lines[0]?.head.byteLength).toBe(4)
  })

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(700 * 1024 * 1024)).toBe('700.0 MiB')
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB')
  })
})
