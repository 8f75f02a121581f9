// scripts/record-cli-requests.ts's pure parts: one request of each shape is kept, and what is
// kept has the shape the request policy checks (fields, tool kinds, betas) with the bulk trimmed.
// (The recorder itself was run against the real CLI 2.1.330: its 12 shapes all pass the policy.)
import { describe, expect, it } from '@jest/globals'
import { distinctShapes, scenarioTurns, trimBody } from '../../scripts/record-cli-requests.js'
import type { RecordedRequest } from '../servers/fake-anthropic.js'

function request(
  body: Record<string, unknown>,
  kind: RecordedRequest['kind'] = 'main'
): RecordedRequest {
  return {
    method: 'POST',
    path: '/v1/messages?beta=true',
    headers: { 'anthropic-beta': 'claude-code-20250219,effort-2025-11-24' },
    body,
    time: 0,
    kind
  }
}

const LONG = 'x'.repeat(1000)
const FIRST = {
  model: 'claude-opus-5-5',
  max_tokens: 100,
  stream: true,
  system: [{ type: 'text', text: LONG }],
  tools: [
    {
      name: 'Bash',
      description: LONG,
      input_schema: { type: 'object', properties: { command: {} } }
    },
    { type: 'web_search_20250305', name: 'web_search', max_uses: 8 }
  ],
  messages: [{ role: 'user', content: [{ type: 'text', text: LONG }] }]
}
const FOLLOW_UP = {
  ...FIRST,
  messages: [
    ...FIRST.messages,
    { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'Bash', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: LONG }] }
  ]
}

describe('trimBody', () => {
  it('keeps every field and each tool’s kind and name, and cuts long text', () => {
    const trimmed = trimBody(FIRST) as typeof FIRST
    expect(Object.keys(trimmed).sort()).toEqual(Object.keys(FIRST).sort())
    expect(trimmed.tools).toEqual([
      { name: 'Bash', input_schema: { type: 'object' } },
      { type: 'web_search_20250305', name: 'web_search' }
    ])
    expect(trimmed.system[0]?.text).toHaveLength(200)
    expect(JSON.stringify(trimBody(FOLLOW_UP))).toContain('"tool_result"')
    expect(JSON.stringify(trimBody(FOLLOW_UP)).length).toBeLessThan(2000)
  })
})

describe('distinctShapes', () => {
  it('keeps the first turn, the follow-up and the side request once each, with their betas', () => {
    const kept = distinctShapes('key-default', [
      request(FIRST),
      request(FOLLOW_UP),
      request(FOLLOW_UP),
      request({ ...FIRST, tool_choice: { type: 'tool', name: 'web_search' } }, 'side'),
      request({ ...FIRST, tool_choice: { type: 'tool', name: 'web_search' } }, 'side')
    ])
    expect(kept.map(k => k.kind)).toEqual(['main', 'main', 'side'])
    expect(kept.every(k => k.run === 'key-default')).toBe(true)
    expect(kept[0]?.['anthropic-beta']).toBe('claude-code-20250219,effort-2025-11-24')
    // A new top-level field is a new shape.
    expect(
      distinctShapes('r', [request(FIRST), request({ ...FIRST, container: 'c' })])
    ).toHaveLength(2)
  })

  it('scripts every tool the recording claims to cover, then ends', () => {
    const turns = scenarioTurns('/tmp/ws')
    const names = turns.flatMap(turn => ('tools' in turn ? turn.tools.map(t => t.name) : []))
    expect(names).toEqual(['Write', 'Read', 'Edit', 'Bash', 'WebSearch'])
    expect(turns.at(-1)).toEqual({ text: 'Done.' })
  })
})
