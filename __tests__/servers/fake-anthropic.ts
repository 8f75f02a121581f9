/**
 * A scripted, local stand-in for the Anthropic Messages API that the real Claude Code CLI can talk
 * to (ANTHROPIC_BASE_URL=<url>). Each test describes the model's side of the conversation as a
 * list of turns; the server answers the CLI's main-loop requests with those turns, streamed as
 * server-sent events exactly like the real API, and answers the CLI's side requests (title
 * generation, quota probes, token counting) with short canned replies that consume no turn.
 *
 * Every request is recorded (method, path with query, headers, parsed body), which is also how
 * the credential gateway's allow-list was found.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** One tool call the scripted model makes, e.g. `{ name: 'Write', input: { file_path, content } }`. */
export interface ToolCall {
  name: string
  input: Record<string, unknown>
  /** Defaults to a fresh `toolu_...` id. */
  id?: string
}

/** An API error answered instead of a message, shaped like Anthropic's error responses. */
export interface ApiErrorSpec {
  /** HTTP status, e.g. 401, 429, 500, 529. */
  status: number
  /** Anthropic error type, e.g. `authentication_error`, `overloaded_error`. Defaults by status. */
  type?: string
  message?: string
  /** Extra response headers, e.g. `{ "retry-after-ms": "0" }` to keep the CLI's backoff short. */
  headers?: Record<string, string>
}

/** Usage figures a turn bills instead of the estimate (for the gateway's spend cap and figures). */
export interface UsageSpec {
  input_tokens?: number
  output_tokens?: number
  cache_read_input_tokens?: number
  cache_creation_input_tokens?: number
}

interface TurnTiming {
  /** Wait this long before sending the response status and headers. */
  delayMs?: number
  /** Wait this long between server-sent events (a slow stream). */
  eventDelayMs?: number
  /** Bill these figures (streamed in message_start/message_delta, or in the JSON body). */
  usage?: UsageSpec
}

/** The model calls tools (stop_reason `tool_use`); `text` is an optional preamble block. */
export interface ToolsTurn extends TurnTiming {
  tools: ToolCall[]
  text?: string
}

/** The model's final answer (stop_reason `end_turn`). */
export interface TextTurn extends TurnTiming {
  text: string
}

/** The API fails this request. `repeat` serves the same error to that many requests (default 1). */
export interface ErrorTurn extends TurnTiming {
  error: ApiErrorSpec
  repeat?: number
}

/** The API never answers (the connection stays open until the client gives up or close()). */
export interface HangTurn {
  hang: true
}

export type Turn = ToolsTurn | TextTurn | ErrorTurn | HangTurn

export interface Scenario {
  /** The main agent loop's turns, in order. */
  turns: Turn[]
  /** Model name reported in responses; defaults to the model the request asked for. */
  model?: string
}

export interface RecordedRequest {
  method: string
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string
  headers: IncomingHttpHeaders
  /** The parsed JSON body, the raw text when it is not JSON, or undefined when empty. */
  body: unknown
  /** When the request arrived (ms since the epoch). */
  time: number
  /** How the server classified it. */
  kind: 'main' | 'side' | 'count_tokens' | 'unknown'
  /** Index of the scenario turn served, for main-loop requests. */
  turn?: number
  /** When the answer was complete (ms since the epoch). */
  answeredAt?: number
}

export interface FakeAnthropic {
  /** `http://127.0.0.1:PORT`, to be used as ANTHROPIC_BASE_URL. */
  url: string
  port: number
  requests: RecordedRequest[]
  /** Main-loop requests only. */
  mainRequests(): RecordedRequest[]
  /** Ends every open connection (hanging and streaming ones included) and stops listening. */
  close(): Promise<void>
}

/** Tools whose presence in a request marks it as the main agent loop (see test-rig.md). */
const MAIN_LOOP_TOOLS = new Set(['Write', 'Edit', 'Bash', 'Read', 'Glob', 'Grep'])

/** Reads a scenario file: either `{ "turns": [...] }` or a bare array of turns. */
export async function loadScenario(path: string): Promise<Scenario> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'))
  const scenario: unknown = Array.isArray(parsed) ? { turns: parsed } : parsed
  validateScenario(scenario, path)
  return scenario
}

function validateScenario(value: unknown, where: string): asserts value is Scenario {
  const turns = (value as { turns?: unknown } | null)?.turns
  if (!Array.isArray(turns)) throw new Error(`${where}: a scenario needs a "turns" array`)
  turns.forEach((turn: unknown, index) => {
    const t = turn as Record<string, unknown> | null
    const ok =
      t !== null &&
      typeof t === 'object' &&
      (Array.isArray(t.tools) ||
        typeof t.text === 'string' ||
        (typeof t.error === 'object' && t.error !== null) ||
        t.hang === true)
    if (!ok) throw new Error(`${where}: turn ${index} needs "tools", "text", "error" or "hang"`)
  })
}

export async function startFakeAnthropic(
  scenario: Scenario,
  opts: { port?: number } = {}
): Promise<FakeAnthropic> {
  validateScenario(scenario, 'startFakeAnthropic')
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const picker = createTurnPicker(scenario.turns)
  let closed = false

  const sleep = (ms: number): Promise<void> =>
    new Promise(resolve => {
      if (ms <= 0 || closed) return resolve()
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })

  const server = createServer((req, res) => {
    readBody(req)
      .then(raw => handle(req, res, raw))
      .catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, apiError('api_error', String(error)))
        else res.destroy()
      })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('close', () => sockets.delete(socket))
  })

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const path = req.url ?? '/'
    const pathname = path.split('?')[0]
    const body = parseBody(raw)
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      time: Date.now(),
      kind: 'unknown'
    }
    requests.push(record)

    if (req.method === 'POST' && pathname === '/v1/messages/count_tokens') {
      record.kind = 'count_tokens'
      sendJson(res, 200, { input_tokens: estimateTokens(raw) })
      return
    }
    if (req.method === 'POST' && pathname === '/v1/messages' && isObject(body)) {
      const request = body as MessagesRequest
      const model =
        scenario.model ?? (typeof request.model === 'string' ? request.model : 'claude-sonnet-4-5')
      const inputTokens = estimateTokens(raw)
      if (!isMainLoop(request)) {
        record.kind = 'side'
        await sendMessage(res, request.stream === true, model, inputTokens, sideAnswer(request), {})
        record.answeredAt = Date.now()
        return
      }
      record.kind = 'main'
      const picked = picker.pick(countAssistantMessages(request))
      record.turn = picked.index
      await serveTurn(res, request.stream === true, model, inputTokens, picked.turn)
      record.answeredAt = Date.now()
      return
    }
    sendJson(
      res,
      404,
      apiError('not_found_error', `fake-anthropic: no route for ${req.method} ${pathname}`)
    )
  }

  async function serveTurn(
    res: ServerResponse,
    stream: boolean,
    model: string,
    inputTokens: number,
    turn: Turn
  ): Promise<void> {
    if ('hang' in turn) return // leave the response open; close() ends it
    await sleep(turn.delayMs ?? 0)
    if (closed) return void res.destroy()
    if ('error' in turn) {
      const status = turn.error.status
      const type = turn.error.type ?? errorTypeFor(status)
      sendJson(res, status, apiError(type, turn.error.message ?? type), turn.error.headers)
      return
    }
    const blocks: ContentBlock[] = []
    if (turn.text !== undefined && turn.text !== '') blocks.push({ type: 'text', text: turn.text })
    if ('tools' in turn) {
      for (const tool of turn.tools) {
        blocks.push({
          type: 'tool_use',
          id: tool.id ?? newId('toolu_'),
          name: tool.name,
          input: tool.input
        })
      }
    }
    await sendMessage(res, stream, model, inputTokens, blocks, {
      eventDelayMs: turn.eventDelayMs,
      usage: turn.usage
    })
  }

  async function sendMessage(
    res: ServerResponse,
    stream: boolean,
    model: string,
    inputTokens: number,
    content: ContentBlock[],
    timing: { eventDelayMs?: number; usage?: UsageSpec }
  ): Promise<void> {
    const stopReason = content.some(block => block.type === 'tool_use') ? 'tool_use' : 'end_turn'
    const outputTokens =
      timing.usage?.output_tokens ?? Math.max(1, estimateTokens(JSON.stringify(content)))
    const id = newId('msg_')
    const requestId = newId('req_')
    const usage = {
      input_tokens: timing.usage?.input_tokens ?? inputTokens,
      cache_creation_input_tokens: timing.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: timing.usage?.cache_read_input_tokens ?? 0,
      output_tokens: outputTokens,
      service_tier: 'standard'
    }
    if (!stream) {
      sendJson(
        res,
        200,
        {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content,
          stop_reason: stopReason,
          stop_sequence: null,
          usage
        },
        { 'request-id': requestId }
      )
      return
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': requestId
    })
    res.flushHeaders()
    const events: [string, unknown][] = [
      [
        'message_start',
        {
          type: 'message_start',
          message: {
            id,
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { ...usage, output_tokens: 1 }
          }
        }
      ]
    ]
    content.forEach((block, index) => {
      if (block.type === 'text') {
        events.push([
          'content_block_start',
          { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }
        ])
        events.push([
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } }
        ])
      } else {
        events.push([
          'content_block_start',
          {
            type: 'content_block_start',
            index,
            content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} }
          }
        ])
        events.push([
          'content_block_delta',
          {
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) }
          }
        ])
      }
      events.push(['content_block_stop', { type: 'content_block_stop', index }])
    })
    events.push([
      'message_delta',
      {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: outputTokens }
      }
    ])
    events.push(['message_stop', { type: 'message_stop' }])
    for (const [index, [name, data]] of events.entries()) {
      if (index > 0) await sleep(timing.eventDelayMs ?? 0)
      if (closed || res.destroyed) return void res.destroy()
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    res.end()
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    mainRequests: () => requests.filter(request => request.kind === 'main'),
    close: async () => {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      const stopped = new Promise<void>(resolve => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await stopped
    }
  }
}

/**
 * Chooses the scenario turn for a main-loop request. The key is the number of assistant messages
 * the request carries: a retry of a request that was already answered successfully (same
 * conversation state) gets the same turn again instead of eating the next one, while a failed
 * attempt (an error or hang turn) moves the script on, so `[error 529, text]` means "fail once,
 * then answer". Past the end of the script the model ends the conversation with a marker text.
 * A `hang` turn is consumed too, so `[hang, text]` tests the CLI's timeout-and-retry (API_TIMEOUT_MS).
 * Subagents (the Agent tool) start their own conversation with the same tools, so they would
 * replay turn 0: scenarios should not call the Agent tool.
 */
function createTurnPicker(turns: Turn[]): {
  pick(assistantCount: number): { turn: Turn; index: number }
} {
  let cursor = 0
  let servedOfCurrent = 0
  const answered = new Map<number, number>()
  return {
    pick(assistantCount) {
      const previous = answered.get(assistantCount)
      if (previous !== undefined) return { turn: turns[previous], index: previous }
      if (cursor >= turns.length) {
        return {
          turn: { text: 'fake-anthropic: the scenario has no more turns' },
          index: turns.length
        }
      }
      const index = cursor
      const turn = turns[index]
      if ('error' in turn) {
        servedOfCurrent += 1
        if (servedOfCurrent >= (turn.repeat ?? 1)) {
          cursor += 1
          servedOfCurrent = 0
        }
      } else {
        cursor += 1
        if (!('hang' in turn)) answered.set(assistantCount, index)
      }
      return { turn, index }
    }
  }
}

interface MessagesRequest {
  model?: unknown
  stream?: unknown
  tools?: unknown
  messages?: unknown
  system?: unknown
  max_tokens?: unknown
}

type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }

function isMainLoop(request: MessagesRequest): boolean {
  if (!Array.isArray(request.tools)) return false
  return request.tools.some(
    (tool: unknown) =>
      isObject(tool) && typeof tool.name === 'string' && MAIN_LOOP_TOOLS.has(tool.name)
  )
}

function countAssistantMessages(request: MessagesRequest): number {
  if (!Array.isArray(request.messages)) return 0
  return request.messages.filter(
    (message: unknown) => isObject(message) && message.role === 'assistant'
  ).length
}

/** A short, plausible reply to a request that is not the agent loop (title, topic, quota probe). */
function sideAnswer(request: MessagesRequest): ContentBlock[] {
  const system = JSON.stringify(request.system ?? '')
  // Title/topic generators ask for JSON; a JSON object satisfies them and is harmless elsewhere.
  if (/json/i.test(system))
    return [{ type: 'text', text: '{"title": "Scripted session", "isNewTopic": false}' }]
  return [{ type: 'text', text: 'ok' }]
}

function errorTypeFor(status: number): string {
  const types: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    500: 'api_error',
    529: 'overloaded_error'
  }
  return types[status] ?? 'api_error'
}

function apiError(type: string, message: string): Record<string, unknown> {
  return { type: 'error', error: { type, message }, request_id: newId('req_') }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers
  })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return raw
  }
}

/** Roughly four characters per token, like the real tokenizer on English and JSON. */
function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function newId(prefix: string): string {
  // Real ids are a prefix plus 24 base62-ish characters.
  return prefix + '01' + randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22)
}
