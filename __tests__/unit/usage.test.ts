// Reading usage off responses as they stream through (usage-meter.ts), pricing it (pricing.ts)
// and booking it (api-ledger.ts), with the API's own event shapes.
import { describe, expect, it } from '@jest/globals'
import { ApiLedger, conversationEnded } from '../../src/api-door/api-ledger.js'
import {
  costOf,
  MODEL_PRICES,
  priceFor,
  UNKNOWN_MODEL_PRICE,
  type Usage
} from '../../src/api-door/pricing.js'
import { tapFor } from '../../src/api-door/usage-meter.js'

function sse(events: Array<[string, unknown]>): string {
  return events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('')
}

const STREAM = sse([
  [
    'message_start',
    {
      type: 'message_start',
      message: {
        model: 'claude-sonnet-4-5-20250929',
        content: [],
        usage: { input_tokens: 10, cache_read_input_tokens: 2000, output_tokens: 1 }
      }
    }
  ],
  [
    'content_block_start',
    { type: 'content_block_start', index: 0, content_block: { type: 'text' } }
  ],
  [
    'content_block_delta',
    // A delta that mentions message_delta in its text must not be taken for one.
    {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: '"message_delta"' }
    }
  ],
  ['ping', { type: 'ping' }],
  [
    'message_delta',
    { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 321 } }
  ],
  ['message_stop', { type: 'message_stop' }]
])

describe('usage taps', () => {
  it.each([1, 7, 64, 100_000])('read a stream cut into %i-byte chunks', size => {
    const tap = tapFor('text/event-stream; charset=utf-8')
    const bytes = Buffer.from(STREAM)
    for (let i = 0; i < bytes.length; i += size) tap.push(bytes.subarray(i, i + size))
    expect(tap.finish()).toEqual({
      model: 'claude-sonnet-4-5-20250929',
      stopReason: 'tool_use',
      usage: { input_tokens: 10, cache_read_input_tokens: 2000, output_tokens: 321 }
    })
  })

  it('skips a content line too long to be a usage event, and reads on after it', () => {
    const tap = tapFor('text/event-stream')
    const huge = `event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"${'x'.repeat(3_000_000)}"}}\n\n`
    tap.push(Buffer.from(huge))
    tap.push(Buffer.from(STREAM))
    expect(tap.finish().usage?.output_tokens).toBe(321)
  })

  it('reads a JSON answer, and the tail of one too large to parse whole', () => {
    const body = {
      model: 'claude-haiku-4-5',
      stop_reason: 'end_turn',
      content: [{ type: 'text', text: 'hi' }],
      usage: { input_tokens: 5, output_tokens: 6 }
    }
    const small = tapFor('application/json')
    small.push(Buffer.from(JSON.stringify(body)))
    expect(small.finish()).toEqual({
      model: 'claude-haiku-4-5',
      stopReason: 'end_turn',
      usage: { input_tokens: 5, output_tokens: 6 }
    })
    const big = tapFor('application/json')
    const text = JSON.stringify({ ...body, content: [{ type: 'text', text: 'y'.repeat(17e6) }] })
    for (let i = 0; i < text.length; i += 1 << 20)
      big.push(Buffer.from(text.slice(i, i + (1 << 20))))
    expect(big.finish().usage).toEqual({ input_tokens: 5, output_tokens: 6 })
  })

  it('reads nothing from an error page', () => {
    const tap = tapFor('text/html')
    tap.push(Buffer.from('<html>bad gateway</html>'))
    expect(tap.finish()).toEqual({})
  })
})

describe('prices', () => {
  it.each([
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4'],
    ['claude-opus-4-1-20250805', 'claude-opus-4-1'],
    ['us.anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4-5'],
    ['claude-opus-5-5', 'claude-opus-5-5']
  ])('%s is priced as %s', (model, key) => {
    expect(priceFor(model, MODEL_PRICES)).toBe(MODEL_PRICES[key])
  })

  it('knows no price for a model it has never heard of, unless `*` gives one', () => {
    expect(priceFor('gpt-5', MODEL_PRICES)).toBeUndefined()
    expect(priceFor('claude-sonnet-45', MODEL_PRICES)).toBeUndefined()
    const star = { ...MODEL_PRICES, '*': UNKNOWN_MODEL_PRICE }
    expect(priceFor('gpt-5', star)).toBe(UNKNOWN_MODEL_PRICE)
  })

  it('prices every kind of token, 1-hour cache writes, searches and US inference', () => {
    const usage: Usage = {
      input_tokens: 1e6,
      output_tokens: 1e6,
      cache_read_input_tokens: 1e6,
      cache_creation_input_tokens: 2e6,
      cache_creation: { ephemeral_1h_input_tokens: 1e6, ephemeral_5m_input_tokens: 1e6 },
      server_tool_use: { web_search_requests: 10 }
    }
    const sonnet = MODEL_PRICES['claude-sonnet-4-5']
    if (!sonnet) throw new Error('no sonnet price')
    // $3 in + $15 out + $0.30 read + $3.75 5-minute write + $6 1-hour write + 10 × $0.01.
    expect(costOf(usage, sonnet)).toBeCloseTo(3 + 15 + 0.3 + 3.75 + 6 + 0.1, 10)
    expect(costOf({ input_tokens: 1e6, inference_geo: 'us' }, sonnet)).toBeCloseTo(3.3, 10)
  })

  it('prices a long prompt at the long-prompt rates (claude-haiku-5-5 above 100k)', () => {
    const haiku = MODEL_PRICES['claude-haiku-5-5']
    if (!haiku) throw new Error('no haiku 5.5 price')
    expect(costOf({ input_tokens: 100_000 }, haiku)).toBeCloseTo(0.01, 10)
    expect(costOf({ input_tokens: 100_001 }, haiku)).toBeCloseTo(0.0500005, 10)
  })
})

describe('the ledger', () => {
  it('books usage, counts agent turns and sees the conversation end', () => {
    const ledger = new ApiLedger({ prices: MODEL_PRICES })
    ledger.book(
      { model: 'claude-sonnet-4-5', usage: { input_tokens: 1e6 }, stopReason: 'tool_use' },
      { agentLoop: true, ok: true }
    )
    expect(conversationEnded(ledger.figures())).toBe(false)
    // A side request (a title, say) ends with end_turn, but is no agent turn.
    ledger.book(
      { model: 'claude-haiku-4-5', usage: { input_tokens: 1000 }, stopReason: 'end_turn' },
      { agentLoop: false, ok: true }
    )
    expect(conversationEnded(ledger.figures())).toBe(false)
    ledger.book(
      { model: 'mystery-model', usage: { output_tokens: 1e6 }, stopReason: 'end_turn' },
      { agentLoop: true, ok: true }
    )
    const figures = ledger.figures()
    expect(conversationEnded(figures)).toBe(true)
    expect(figures).toMatchObject({ turns: 2, inputTokens: 1_001_000, outputTokens: 1e6 })
    expect(figures.unpricedModels).toEqual(['mystery-model'])
    // $3 + $0.001 + $75 (the unknown model at the highest rates).
    expect(figures.costUsd).toBeCloseTo(78.001, 6)
  })

  it('keeps what refusals quote short, and the number of distinct rules bounded', () => {
    const ledger = new ApiLedger({ prices: MODEL_PRICES })
    for (let i = 0; i < 1000; i++) ledger.refused(`field f${i}${'x'.repeat(500)}`, 'y'.repeat(5000))
    const refused = ledger.figures().refused
    expect(refused).toHaveLength(101)
    expect(refused[0]).toMatchObject({ rule: 'other rules', count: 900 })
    expect(Math.max(...refused.map(group => group.rule.length))).toBeLessThanOrEqual(121)
    expect(Math.max(...refused.map(group => group.reason.length))).toBeLessThanOrEqual(401)
  })

  it('reaches the cap once, and says so once', () => {
    const reached: number[] = []
    const ledger = new ApiLedger({
      prices: MODEL_PRICES,
      capUsd: 5,
      onCapReached: figures => reached.push(figures.costUsd)
    })
    const turn = { model: 'claude-sonnet-4-5', usage: { input_tokens: 1e6 } }
    ledger.book(turn, { agentLoop: true, ok: true })
    expect(ledger.capReached).toBe(false)
    ledger.book(turn, { agentLoop: true, ok: true })
    expect(ledger.capReached).toBe(true)
    ledger.book(turn, { agentLoop: true, ok: true })
    expect(reached).toEqual([6])
    expect(ledger.figures().budget).toEqual({ capUsd: 5, reached: true })
  })
})
