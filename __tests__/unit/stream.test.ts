import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SDKAPIRetryMessage } from '@anthropic-ai/claude-agent-sdk'
import { CUT_NOTE_TYPE, describeMessage, TranscriptReader } from '../../src/agent/stream.js'
import { formatBytes } from '../../src/bounded-lines.js'

// Lines as the CLI prints them in stream-json mode (only the fields the reader looks at).
const init = {
  type: 'system',
  subtype: 'init',
  session_id: 'sess-1',
  model: 'claude-sonnet-4-5',
  cwd: '/workspace',
  claude_code_version: '2.1.330'
}
const toolCall = {
  type: 'assistant',
  session_id: 'sess-1',
  message: {
    content: [
      { type: 'text', text: 'Running   the\ntests.' },
      { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'npm test', timeout: 1 } }
    ]
  }
}
const toolOnly = {
  type: 'assistant',
  session_id: 'sess-1',
  message: { content: [{ type: 'tool_use', id: 't2', name: 'Edit', input: { file_path: 'a.ts' } }] }
}
const finalText = {
  type: 'assistant',
  session_id: 'sess-2',
  message: { content: [{ type: 'text', text: 'Done: the test passes.' }] }
}
const result = (turns: number) => ({
  type: 'result',
  subtype: 'success',
  is_error: false,
  result: `result after ${turns}`,
  num_turns: turns,
  duration_ms: 12_345,
  total_cost_usd: 0.05,
  session_id: 'sess-2',
  usage: { input_tokens: 10, output_tokens: 5 }
})

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'unit-stream-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Waits (bounded) until `file` holds `expected`: the reader writes asynchronously. */
async function waitForContent(file: string, expected: string): Promise<string> {
  let content = ''
  for (let i = 0; i < 100; i++) {
    content = existsSync(file) ? readFileSync(file, 'utf8') : ''
    if (content === expected) break
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return content
}

describe('TranscriptReader', () => {
  it('writes each line as it arrives, keeps the state and logs readable lines', async () => {
    const file = path.join(dir, 'transcript.jsonl')
    const logged: string[] = []
    const reader = new TranscriptReader(file, line => logged.push(line))
    const lines = [init, toolCall, result(1), toolOnly, finalText, result(2)].map(m =>
      JSON.stringify(m)
    )

    // The first line is split in the middle of a string; nothing is written until it is whole.
    const first = lines[0] ?? ''
    reader.write(first.slice(0, 20))
    reader.write(first.slice(20) + '\n' + (lines[1] ?? '').slice(0, 7))
    // Before close: the whole lines are already on disk, the partial one is not.
    expect(await waitForContent(file, `${first}\n`)).toBe(`${first}\n`)

    reader.write((lines[1] ?? '').slice(7) + '\nnot json at all\n')
    for (const line of lines.slice(2, -1)) reader.write(`${line}\n`)
    reader.write(lines.at(-1) ?? '') // the last line has no newline: close() flushes it
    await reader.close()

    const written = readFileSync(file, 'utf8').split('\n')
    expect(written).toEqual([lines[0], lines[1], 'not json at all', ...lines.slice(2), ''])
    expect(reader.result).toMatchObject({ subtype: 'success', result: 'result after 2' })
    expect(reader.sessionId).toBe('sess-2')
    expect(reader.lastAssistantText).toBe('Done: the test passes.')
    expect(reader.messageCount).toBe(6)
    expect(logged).toEqual([
      '▶ Claude Code 2.1.330 started (model claude-sonnet-4-5, cwd /workspace)',
      '💬 Running the tests.',
      '🔧 Bash: npm test',
      '(not JSON) not json at all',
      '■ success after 1 turns, 12.3 s, $0.0500',
      '🔧 Edit: a.ts',
      '💬 Done: the test passes.',
      '■ success after 2 turns, 12.3 s, $0.0500'
    ])
  })

  it('keeps the last assistant text when later messages only call tools', async () => {
    const reader = new TranscriptReader(path.join(dir, 'tools.jsonl'), () => undefined)
    reader.write(`${JSON.stringify(toolCall)}\n${JSON.stringify(toolOnly)}\n`)
    await reader.close()
    expect(reader.lastAssistantText).toBe('Running   the\ntests.')
    expect(reader.result).toBeUndefined()
  })
})

describe('describeMessage', () => {
  function retry(extra: Partial<SDKAPIRetryMessage> = {}): SDKAPIRetryMessage {
    return {
      type: 'system',
      subtype: 'api_retry',
      attempt: 2,
      max_retries: 10,
      retry_delay_ms: 4_200,
      error_status: 529,
      error: 'overloaded',
      uuid: '00000000-0000-4000-8000-000000000002',
      session_id: 'sess-1',
      ...extra
    }
  }

  it('describes an API retry with the status, the attempt and the delay', () => {
    expect(describeMessage(retry())).toEqual(['⏳ API error 529: retry 2/10 in 4 s'])
    expect(describeMessage(retry({ error_status: null, attempt: 1, retry_delay_ms: 600 }))).toEqual(
      [expect.stringContaining('retry 1/10 in 1 s')]
    )
  })

  it("survives lines a hostile process writes to the CLI's stdout", async () => {
    const file = path.join(dir, 'hostile.jsonl')
    const logged: string[] = []
    const reader = new TranscriptReader(file, line => logged.push(line))
    const hostile = [
      '42',
      'null',
      '"text"',
      '{"type":"assistant"}',
      '{"type":"result","subtype":"error_during_execution"}',
      '{"type":"user","message":null}',
      JSON.stringify(finalText)
    ]
    expect(() => reader.write(hostile.join('\n') + '\n')).not.toThrow()
    await reader.close()
    // A forged result without its figures is not taken as the run's result.
    expect(reader.result).toBeUndefined()
    expect(reader.lastAssistantText).toBe(finalText.message.content[0]?.text)
    expect(logged.filter(line => line.startsWith('(not a message)'))).toHaveLength(3)
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(hostile.length)
  })
})

describe('TranscriptReader bounds', () => {
  // Small limits so the cases stay fast; the defaults are the same code with bigger numbers.
  const limits = {
    maxLineBytes: 1024,
    keepBytes: 64,
    headBytes: 4096,
    tailBytes: 2048,
    maxNoiseLines: 5
  }
  const message = (i: number) =>
    JSON.stringify({
      type: 'assistant',
      session_id: 's',
      message: { content: [{ type: 'text', text: `line ${i}` }] }
    })

  it('cuts a line over the limit to a note with its size, head and tail, and reads on', async () => {
    const file = path.join(dir, 'giant-line.jsonl')
    const logged: string[] = []
    const reader = new TranscriptReader(file, line => logged.push(line), limits)
    reader.write(`${JSON.stringify(init)}\n`)
    // 100 KiB without a newline, fed in chunks of odd sizes, then the line ends and a result follows.
    const giant = 'H'.repeat(100) + 'a'.repeat(100 * 1024) + 'T'.repeat(100)
    for (let at = 0; at < giant.length; at += 777) reader.write(giant.slice(at, at + 777))
    reader.write(`\n${JSON.stringify(result(1))}\n`)
    await reader.close()

    const lines = readFileSync(file, 'utf8').trim().split('\n')
    expect(lines).toHaveLength(3)
    const note = JSON.parse(lines[1] ?? '{}') as Record<string, unknown>
    expect(note).toMatchObject({
      type: CUT_NOTE_TYPE,
      line_bytes: giant.length,
      head: 'H'.repeat(64),
      tail: 'T'.repeat(64)
    })
    expect(reader.cutLines).toBe(1)
    expect(reader.result).toMatchObject({ subtype: 'success', num_turns: 1 })
    const cutLog = logged.find(line => line.startsWith('(a line of 100.2 KiB, cut; not read)'))
    expect(cutLog).toBeDefined()
    expect((cutLog ?? '').length).toBeLessThan(400)
  })

  it('keeps a line exactly at the limit whole and parses it', async () => {
    const file = path.join(dir, 'at-limit.jsonl')
    const reader = new TranscriptReader(file, () => undefined, limits)
    const padded = { ...finalText, pad: '' }
    padded.pad = 'p'.repeat(limits.maxLineBytes - JSON.stringify(padded).length)
    const line = JSON.stringify(padded)
    expect(Buffer.byteLength(line)).toBe(limits.maxLineBytes)
    reader.write(`${line}\n`)
    await reader.close()
    expect(readFileSync(file, 'utf8')).toBe(`${line}\n`)
    expect(reader.lastAssistantText).toBe('Done: the test passes.')
  })

  it('keeps the head and the tail of a long transcript and says what was left out', async () => {
    const file = path.join(dir, 'long.jsonl')
    const logged: string[] = []
    const reader = new TranscriptReader(file, line => logged.push(line), limits)
    const all = Array.from({ length: 500 }, (_, i) => message(i))
    for (const line of all) reader.write(`${line}\n`)
    reader.write(JSON.stringify(result(500)))
    await reader.close()

    const kept = readFileSync(file, 'utf8').split('\n')
    expect(kept.pop()).toBe('')
    const noteAt = kept.findIndex(line => line.includes(CUT_NOTE_TYPE))
    expect(noteAt).toBeGreaterThan(0)
    const head = kept.slice(0, noteAt)
    const tail = kept.slice(noteAt + 1)
    // The head is the first lines exactly, the tail the last ones, both within their budgets.
    expect(head).toEqual(all.slice(0, head.length))
    expect(tail.at(-1)).toBe(JSON.stringify(result(500)))
    expect(tail.slice(0, -1)).toEqual(all.slice(all.length - (tail.length - 1)))
    expect(Buffer.byteLength(head.join('\n') + '\n')).toBeLessThanOrEqual(limits.headBytes)
    expect(Buffer.byteLength(tail.join('\n') + '\n')).toBeLessThanOrEqual(limits.tailBytes)
    const note = JSON.parse(kept[noteAt] ?? '{}') as { omitted_lines: number }
    expect(head.length + note.omitted_lines + tail.length).toBe(all.length + 1)
    // Every line was still read: the state comes from the whole stream, not the kept part.
    expect(reader.messageCount).toBe(501)
    expect(reader.result).toMatchObject({ num_turns: 500 })
    expect(logged).toContain(
      `The transcript was cut: ${note.omitted_lines} lines (${formatBytes(
        Buffer.byteLength(all.join('\n') + '\n') -
          Buffer.byteLength(head.join('\n') + '\n') -
          Buffer.byteLength(tail.slice(0, -1).join('\n') + (tail.length > 1 ? '\n' : ''))
      )}) in its middle were left out`
    )
  })

  it('logs the first lines that are not messages, then only counts them', async () => {
    const logged: string[] = []
    const reader = new TranscriptReader(path.join(dir, 'noise.jsonl'), l => logged.push(l), limits)
    for (let i = 0; i < 50; i++) reader.write(`noise ${i}\n`)
    reader.write(`${JSON.stringify(finalText)}\n`)
    await reader.close()
    expect(logged.filter(line => line.startsWith('(not JSON)'))).toHaveLength(5)
    expect(logged).toContain('💬 Done: the test passes.')
    expect(logged.at(-1)).toBe('(50 lines in all were not messages)')
  })

  it('stays linear: 64 MiB without a newline is read in well under a second per 64 MiB', async () => {
    const file = path.join(dir, 'linear.jsonl')
    const reader = new TranscriptReader(file, () => undefined)
    const chunk = Buffer.alloc(64 * 1024, 'a')
    const started = process.hrtime.bigint()
    for (let i = 0; i < 1024; i++) reader.write(chunk)
    reader.write('\n')
    await reader.close()
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    // Quadratic re-splitting took minutes for this; linear work is a few milliseconds.
    expect(seconds).toBeLessThan(5)
    const [note] = readFileSync(file, 'utf8').trim().split('\n')
    expect(JSON.parse(note ?? '{}')).toMatchObject({ line_bytes: 64 * 1024 * 1024 })
  })

  it('survives a transcript that cannot be written (a full disk): reports once, reads on', async () => {
    const logged: string[] = []
    const reader = new TranscriptReader(
      path.join(dir, 'no-such-dir', 'x.jsonl'),
      line => logged.push(line),
      limits
    )
    reader.write(`${JSON.stringify(finalText)}\n`)
    await reader.close()
    expect(reader.lastAssistantText).toBe('Done: the test passes.')
    expect(logged.filter(line => line.startsWith('Could not write the transcript'))).toHaveLength(1)
  })
})
