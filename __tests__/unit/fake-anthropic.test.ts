// The scripted fake Messages API: turns come out in order as real SSE, side requests do not eat
// turns, errors carry the right status and Anthropic's error shape.
import { afterEach, describe, expect, it } from '@jest/globals'
import { join } from 'node:path'
import {
  loadScenario,
  startFakeAnthropic,
  type FakeAnthropic,
  type Scenario
} from '../servers/fake-anthropic.js'

const SCENARIOS = join(process.cwd(), '__tests__', 'fixtures', 'scenarios')
const TOOLS = [
  { name: 'Bash', input_schema: { type: 'object' } },
  { name: 'Write', input_schema: { type: 'object' } }
]

interface SseEvent {
  event: string
  data: Record<string, unknown>
}

let server: FakeAnthropic | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(scenario: Scenario): Promise<FakeAnthropic> {
  server = await startFakeAnthropic(scenario)
  return server
}

async function post(
  fake: FakeAnthropic,
  body: Record<string, unknown>,
  path = '/v1/messages?beta=true'
): Promise<{ status: number; contentType: string; text: string }> {
  const response = await fetch(fake.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test' },
    body: JSON.stringify(body)
  })
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text: await response.text()
  }
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter(block => block.trim() !== '')
    .map(block => {
      const [eventLine, dataLine] = block.split('\n')
      return {
        event: eventLine.replace(/^event: /, ''),
        data: JSON.parse(dataLine.replace(/^data: /, '')) as Record<string, unknown>
      }
    })
}

/** The conversation as the CLI would send it after `assistantTurns` answered tool calls. */
function mainLoopRequest(assistantTurns: number, stream = true): Record<string, unknown> {
  const messages: unknown[] = [{ role: 'user', content: 'do it' }]
  for (let i = 0; i < assistantTurns; i++) {
    messages.push({
      role: 'assistant',
      content: [{ type: 'tool_use', id: `toolu_${i}`, name: 'Bash', input: {} }]
    })
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: 'ok' }]
    })
  }
  return { model: 'claude-sonnet-4-5', max_tokens: 1000, stream, tools: TOOLS, messages }
}

describe('fake Anthropic Messages API', () => {
  it('serves the scenario turns in order as a real event stream', async () => {
    const fake = await start({
      turns: [
        { tools: [{ name: 'Write', input: { file_path: '/workspace/a.txt', content: 'A\n' } }] },
        { text: 'All done.' }
      ]
    })

    const first = await post(fake, mainLoopRequest(0))
    expect(first.status).toBe(200)
    expect(first.contentType).toMatch(/^text\/event-stream/)
    const events = parseSse(first.text)
    expect(events.map(event => event.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop'
    ])
    const message = events[0].data.message as { id: string; model: string; usage: object }
    expect(message.id).toMatch(/^msg_/)
    expect(message.model).toBe('claude-sonnet-4-5')
    expect(message.usage).toMatchObject({ input_tokens: expect.any(Number) })
    const block = events[1].data.content_block as { type: string; id: string; name: string }
    expect(block).toMatchObject({ type: 'tool_use', name: 'Write' })
    expect(block.id).toMatch(/^toolu_/)
    const delta = events[2].data.delta as { type: string; partial_json: string }
    expect(delta.type).toBe('input_json_delta')
    expect(JSON.parse(delta.partial_json)).toEqual({
      file_path: '/workspace/a.txt',
      content: 'A\n'
    })
    expect(events[4].data).toMatchObject({
      delta: { stop_reason: 'tool_use' },
      usage: { output_tokens: expect.any(Number) }
    })

    const second = parseSse((await post(fake, mainLoopRequest(1))).text)
    expect(second[2].data.delta).toEqual({ type: 'text_delta', text: 'All done.' })
    expect(second[4].data).toMatchObject({ delta: { stop_reason: 'end_turn' } })
    expect(fake.mainRequests().map(request => request.turn)).toEqual([0, 1])
  })

  it('answers a retried request with the same turn instead of the next one', async () => {
    const fake = await start({ turns: [{ text: 'first' }, { text: 'second' }] })
    const once = parseSse((await post(fake, mainLoopRequest(0))).text)
    const again = parseSse((await post(fake, mainLoopRequest(0))).text)
    expect(once[2].data.delta).toEqual({ type: 'text_delta', text: 'first' })
    expect(again[2].data.delta).toEqual({ type: 'text_delta', text: 'first' })
  })

  it('answers side requests and token counts without consuming a turn', async () => {
    const fake = await start({ turns: [{ text: 'the real answer' }] })

    const title = await post(fake, {
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      system: 'Reply with JSON: {"title": ...}',
      messages: [{ role: 'user', content: 'name this session' }]
    })
    expect(title.status).toBe(200)
    expect(JSON.parse(title.text)).toMatchObject({ type: 'message', stop_reason: 'end_turn' })

    const count = await post(fake, mainLoopRequest(0), '/v1/messages/count_tokens?beta=true')
    expect(JSON.parse(count.text)).toEqual({ input_tokens: expect.any(Number) })

    const main = parseSse((await post(fake, mainLoopRequest(0))).text)
    expect(main[2].data.delta).toEqual({ type: 'text_delta', text: 'the real answer' })
    expect(fake.requests.map(request => request.kind)).toEqual(['side', 'count_tokens', 'main'])
  })

  it('answers a non-streamed request with a JSON message', async () => {
    const fake = await start({ turns: [{ tools: [{ name: 'Bash', input: { command: 'ls' } }] }] })
    const response = await post(fake, mainLoopRequest(0, false))
    expect(response.contentType).toBe('application/json')
    expect(JSON.parse(response.text)).toMatchObject({
      type: 'message',
      role: 'assistant',
      stop_reason: 'tool_use',
      content: [{ type: 'tool_use', name: 'Bash', input: { command: 'ls' } }]
    })
  })

  it('answers API errors with their status and shape, then moves on', async () => {
    const fake = await start(await loadScenario(join(SCENARIOS, 'error-401.json')))
    const denied = await post(fake, mainLoopRequest(0))
    expect(denied.status).toBe(401)
    expect(JSON.parse(denied.text)).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error', message: 'invalid x-api-key' },
      request_id: expect.stringMatching(/^req_/)
    })
    await server?.close()

    const overloaded = await start({
      turns: [{ error: { status: 529 }, repeat: 2 }, { text: 'recovered' }]
    })
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await post(overloaded, mainLoopRequest(0))).status)
    expect(statuses).toEqual([529, 529, 200])
    const body = JSON.parse((await post(overloaded, { ...mainLoopRequest(1), stream: false })).text)
    expect(body).toMatchObject({ content: [{ type: 'text' }] })
  })

  it('answers unknown paths with a JSON 404', async () => {
    const fake = await start({ turns: [] })
    const response = await fetch(`${fake.url}/v1/models`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' }
    })
  })

  it('can hang a request until it is closed', async () => {
    const fake = await start({ turns: [{ hang: true }] })
    const pending = post(fake, mainLoopRequest(0)).catch((error: unknown) => String(error))
    for (let i = 0; i < 100 && fake.requests.length === 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(fake.requests).toHaveLength(1)
    await fake.close()
    expect(await pending).toMatch(/fetch failed|terminated|socket/i)
  })

  it('loads the example scenarios', async () => {
    const write = await loadScenario(join(SCENARIOS, 'write-file.json'))
    expect(write.turns).toHaveLength(2)
    const overloaded = await loadScenario(join(SCENARIOS, 'error-529.json'))
    expect(overloaded.turns[0]).toMatchObject({ error: { status: 529 } })
  })
})
