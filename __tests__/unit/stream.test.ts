import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { SDKAPIRetryMessage } from '@anthropic-ai/claude-agent-sdk'
import { describeMessage, TranscriptReader } from '../../src/agent/stream.js'

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
