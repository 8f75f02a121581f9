// The credential gateway, tested with real HTTP over its real Unix socket, forwarding to the
// scripted fake Anthropic API on loopback. Evidence is what the upstream actually received.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, request, type IncomingHttpHeaders } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  startGateway,
  type Gateway,
  type GatewayLogEntry,
  type GatewayOptions
} from '../../src/api-door/gateway.js'
import { startFakeAnthropic, type FakeAnthropic } from '../servers/fake-anthropic.js'
import { selfSignedCertificate } from '../helpers/tls.js'

const REAL_KEY = 'sk-ant-api03-REAL-key-that-must-never-leak'
const REAL_OAUTH = 'sk-ant-oat01-REAL-oauth-token'
const MESSAGES_BODY = {
  model: 'claude-sonnet-4-5',
  max_tokens: 100,
  stream: true,
  tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
  messages: [{ role: 'user', content: 'hi' }]
}

interface Response {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** Each chunk as it arrived, with ms since the request was sent. */
  chunks: { at: number; text: string }[]
  elapsedMs: number
}

/** One HTTP request over the gateway's Unix socket. */
function callGateway(
  socketPath: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: unknown }
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = request(
      {
        socketPath,
        method: options.method ?? 'POST',
        path: options.path,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...options.headers
        }
      },
      res => {
        const chunks: { at: number; text: string }[] = []
        res.setEncoding('utf8')
        res.on('data', (text: string) => chunks.push({ at: Date.now() - started, text }))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: chunks.map(chunk => chunk.text).join(''),
            chunks,
            elapsedMs: Date.now() - started
          })
        )
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    req.end(payload)
  })
}

let dir: string
const gateways: Gateway[] = []
const fakes: FakeAnthropic[] = []

async function gatewayTo(
  upstream: string,
  credentials: { apiKey?: string; oauthToken?: string } = { apiKey: REAL_KEY },
  name = `gw-${gateways.length}.sock`,
  options: Partial<GatewayOptions> = {}
): Promise<Gateway> {
  const gateway = await startGateway({
    socketPath: join(dir, name),
    upstream,
    credentials,
    ...options
  })
  gateways.push(gateway)
  return gateway
}

async function fake(
  turns: Parameters<typeof startFakeAnthropic>[0]['turns']
): Promise<FakeAnthropic> {
  const server = await startFakeAnthropic({ turns })
  fakes.push(server)
  return server
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gw-test-'))
})
afterEach(async () => {
  await Promise.all(gateways.splice(0).map(gateway => gateway.close()))
  await Promise.all(fakes.splice(0).map(server => server.close()))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('credential gateway', () => {
  it('listens on a socket any local uid can connect to', async () => {
    const gateway = await gatewayTo('http://127.0.0.1:9')
    expect(statSync(gateway.socketPath).isSocket()).toBe(true)
    expect(statSync(gateway.socketPath).mode & 0o777).toBe(0o666)
  })

  it('replaces every credential the client sends with the real API key', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url)
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      headers: {
        'x-api-key': 'sk-ant-agent-own-key',
        authorization: 'Bearer agent-token',
        cookie: 'session=agent',
        'proxy-authorization': 'Basic YWdlbnQ=',
        'anthropic-api-key': 'sk-ant-hidden',
        'x-auth-token': 'hidden',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'claude-code-20250219',
        'user-agent': 'claude-cli/2.1.330 (external, sdk-cli)'
      },
      body: MESSAGES_BODY
    })

    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(response.body).toContain('event: message_stop')
    expect(upstream.requests).toHaveLength(1)
    const seen = upstream.requests[0]
    expect(seen.path).toBe('/v1/messages?beta=true')
    expect(seen.headers['x-api-key']).toBe(REAL_KEY)
    for (const header of [
      'authorization',
      'cookie',
      'proxy-authorization',
      'anthropic-api-key',
      'x-auth-token'
    ]) {
      expect(seen.headers[header]).toBeUndefined()
    }
    expect(JSON.stringify(seen.headers)).not.toMatch(
      /agent-own|agent-token|session=agent|YWdlbnQ|hidden/
    )
    // What the CLI needs passes through untouched; host names the upstream.
    expect(seen.headers['anthropic-version']).toBe('2023-06-01')
    expect(seen.headers['anthropic-beta']).toBe('claude-code-20250219')
    expect(seen.headers['user-agent']).toBe('claude-cli/2.1.330 (external, sdk-cli)')
    expect(seen.headers.host).toBe(new URL(upstream.url).host)
    expect(seen.body).toEqual(MESSAGES_BODY)

    const entry = gateway.entries[0]
    expect(entry).toMatchObject({
      method: 'POST',
      path: '/v1/messages?beta=true',
      status: 200,
      allowed: true
    })
    expect(entry.bytes).toBe(Buffer.byteLength(response.body))
    expect(JSON.stringify(gateway.entries)).not.toContain(REAL_KEY)
  })

  it('authenticates with an OAuth token and adds the OAuth beta flag', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url, { oauthToken: REAL_OAUTH })
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      headers: {
        'x-api-key': 'placeholder',
        'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14'
      },
      body: MESSAGES_BODY
    })

    expect(response.status).toBe(200)
    const seen = upstream.requests[0].headers
    expect(seen.authorization).toBe(`Bearer ${REAL_OAUTH}`)
    expect(seen['x-api-key']).toBeUndefined()
    expect(seen['anthropic-beta']).toBe(
      'claude-code-20250219,interleaved-thinking-2025-05-14,oauth-2025-04-20'
    )
  })

  it('does not repeat the OAuth beta flag when the client already sent it', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url, { oauthToken: REAL_OAUTH })
    await callGateway(gateway.socketPath, {
      path: '/v1/messages/count_tokens?beta=true',
      headers: { authorization: 'Bearer x', 'anthropic-beta': 'oauth-2025-04-20' },
      body: MESSAGES_BODY
    })
    expect(upstream.requests[0].headers['anthropic-beta']).toBe('oauth-2025-04-20')
  })

  it('refuses paths that are not on the allow-list, without contacting the upstream', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url)
    const refused = [
      { method: 'POST', path: '/v1/files' },
      { method: 'GET', path: '/v1/messages?beta=true' },
      { method: 'POST', path: '/v1/messages/batches' },
      { method: 'POST', path: '/v1/messages/../files' },
      { method: 'POST', path: '/v1/messages/' },
      { method: 'HEAD', path: '/api/hello/x' },
      { method: 'GET', path: '/api/hello' },
      { method: 'GET', path: '/api/oauth/profile' }
    ]
    for (const { method, path } of refused) {
      const response = await callGateway(gateway.socketPath, {
        method,
        path,
        body: method === 'POST' ? MESSAGES_BODY : undefined
      })
      expect(response.status).toBe(400)
      if (method !== 'HEAD') {
        expect(JSON.parse(response.body)).toEqual({
          type: 'error',
          error: {
            type: 'invalid_request_error',
            message: `claude-sandbox gateway refused the request: path not allowed: ${method} ${path.split('?')[0]}`
          }
        })
      }
    }
    expect(upstream.requests).toHaveLength(0)
    expect(gateway.entries.find(entry => entry.method === 'HEAD')?.bytes).toBe(0)
    expect(gateway.entries.map(entry => [entry.allowed, entry.status])).toEqual(
      refused.map(() => [false, 400])
    )
  })

  it('answers the CLI’s connectivity probe itself: nothing forwarded, nothing refused', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url)
    const response = await callGateway(gateway.socketPath, { method: 'HEAD', path: '/api/hello' })
    expect(response.status).toBe(200)
    expect(upstream.requests).toHaveLength(0)
    expect(gateway.entries).toMatchObject([{ method: 'HEAD', allowed: true, status: 200 }])
    expect(gateway.figures().refused).toEqual([])
  })

  it('joins request paths onto the upstream path prefix', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(`${upstream.url}/api/anthropic/`)
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })
    expect(upstream.requests.map(seen => seen.path)).toEqual([
      '/api/anthropic/v1/messages?beta=true'
    ])
    // The fake serves no prefix, so its JSON 404 comes back through the gateway as is.
    expect(response.status).toBe(404)
    expect(JSON.parse(response.body)).toMatchObject({ type: 'error' })
  })

  it('streams server-sent events through as they are produced', async () => {
    const upstream = await fake([{ text: 'slowly', eventDelayMs: 300 }])
    const gateway = await gatewayTo(upstream.url)
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })

    expect(response.status).toBe(200)
    // Six events 300 ms apart: the stream takes 1.5 s; the first event must arrive long before.
    const first = response.chunks[0]
    expect(first.text).toContain('event: message_start')
    expect(response.elapsedMs).toBeGreaterThanOrEqual(1400)
    expect(response.elapsedMs - first.at).toBeGreaterThanOrEqual(1200)
    expect(response.chunks.length).toBeGreaterThanOrEqual(6)
    expect(response.body.match(/^event: /gm)).toHaveLength(6)
  })

  it('passes API errors through with their status and body', async () => {
    const upstream = await fake([
      { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }
    ])
    const gateway = await gatewayTo(upstream.url)
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })
    expect(response.status).toBe(529)
    expect(JSON.parse(response.body)).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' }
    })
    expect(gateway.entries[0]).toMatchObject({ status: 529, allowed: true })
  })

  it('answers a JSON 502 naming the upstream when it cannot be reached', async () => {
    const closed = createHttpServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>(resolve => closed.close(() => resolve()))
    const logged: GatewayLogEntry[] = []
    const gateway = await startGateway({
      socketPath: join(dir, 'down.sock'),
      upstream: `http://127.0.0.1:${port}/prefix`,
      credentials: { apiKey: REAL_KEY },
      log: entry => logged.push(entry)
    })
    gateways.push(gateway)

    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })
    expect(response.status).toBe(502)
    expect(response.headers['content-type']).toBe('application/json')
    const body = JSON.parse(response.body) as {
      type: string
      error: { type: string; message: string }
    }
    expect(body.type).toBe('error')
    expect(body.error.type).toBe('api_error')
    expect(body.error.message).toContain(`http://127.0.0.1:${port}/prefix`)
    expect(body.error.message).toContain('ECONNREFUSED')
    expect(response.body).not.toContain(REAL_KEY)
    expect(logged).toEqual(gateway.entries)
    expect(logged[0]).toMatchObject({ status: 502, allowed: true })
    expect(logged[0].error).toContain('ECONNREFUSED')
  })

  it('answers a JSON 502 when the upstream TLS certificate is not trusted', async () => {
    const { key, cert } = selfSignedCertificate(dir)
    let reached = 0
    const tls = createHttpsServer({ key, cert }, (_req, res) => {
      reached += 1
      res.end('{}')
    })
    await new Promise<void>(resolve => tls.listen(0, '127.0.0.1', resolve))
    try {
      const port = (tls.address() as AddressInfo).port
      const gateway = await gatewayTo(`https://127.0.0.1:${port}`)
      const response = await callGateway(gateway.socketPath, {
        path: '/v1/messages?beta=true',
        body: MESSAGES_BODY
      })
      expect(response.status).toBe(502)
      const body = JSON.parse(response.body) as { error: { message: string } }
      expect(body.error.message).toContain(`https://127.0.0.1:${port}`)
      expect(body.error.message).toMatch(/self[- ]signed/i)
      expect(reached).toBe(0)
    } finally {
      tls.closeAllConnections()
      await new Promise<void>(resolve => tls.close(() => resolve()))
    }
  })

  it('ends open streams and removes its socket on close()', async () => {
    const upstream = await fake([{ hang: true }])
    const gateway = await gatewayTo(upstream.url)
    const pending = callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    }).catch((error: unknown) => error)
    for (let i = 0; i < 100 && upstream.requests.length === 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(upstream.requests).toHaveLength(1)

    const started = Date.now()
    await gateway.close()
    expect(Date.now() - started).toBeLessThan(2000)
    expect(existsSync(gateway.socketPath)).toBe(false)
    // The client sees its request fail (jest's realm differs from node's, so match the text).
    expect(String(await pending)).toMatch(/socket hang up|ECONNRESET/)
    // Closing twice is harmless.
    await gateway.close()
  })

  it('replaces a stale socket left by a crashed run, but never a regular file', async () => {
    const stale = join(dir, 'stale.sock')
    // A process that binds a socket and dies leaves the file behind.
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      stale
    ])
    expect(statSync(stale).isSocket()).toBe(true)
    const upstream = await fake([{ text: 'hello' }])
    const gateway = await gatewayTo(upstream.url, { apiKey: REAL_KEY }, 'stale.sock')
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })
    expect(response.status).toBe(200)

    const regular = join(dir, 'regular-file')
    writeFileSync(regular, 'keep me')
    await expect(
      startGateway({
        socketPath: regular,
        upstream: upstream.url,
        credentials: { apiKey: REAL_KEY }
      })
    ).rejects.toThrow(/not a socket/)
    expect(readFileSync(regular, 'utf8')).toBe('keep me')
  })

  it('refuses to start without credentials or with a malformed upstream', async () => {
    const socketPath = join(dir, 'refused.sock')
    await expect(
      startGateway({ socketPath, upstream: 'http://127.0.0.1:9', credentials: {} })
    ).rejects.toThrow(/no credentials/)
    await expect(
      startGateway({ socketPath, upstream: 'ftp://example.invalid', credentials: { apiKey: 'k' } })
    ).rejects.toThrow(/http or https/)
    await expect(
      startGateway({
        socketPath,
        upstream: 'https://user:secret@127.0.0.1:9',
        credentials: { apiKey: 'k' }
      })
    ).rejects.toThrow(/must not contain credentials/)
    expect(existsSync(socketPath)).toBe(false)
  })
})

describe('the API door', () => {
  const FORBIDDEN: Array<[string, Record<string, unknown>, Record<string, string>]> = [
    [
      'mcp_servers',
      { ...MESSAGES_BODY, mcp_servers: [{ type: 'url', url: 'https://x', name: 'x' }] },
      {}
    ],
    [
      'web_fetch',
      { ...MESSAGES_BODY, tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] },
      {}
    ],
    ['beta', MESSAGES_BODY, { 'anthropic-beta': 'files-api-2025-04-14' }]
  ]

  it('refuses what the policy refuses with a non-retryable 400, before the upstream sees it', async () => {
    const upstream = await fake([{ text: 'hello' }])
    const refusals: string[] = []
    const gateway = await gatewayTo(upstream.url, { apiKey: REAL_KEY }, 'policy.sock', {
      onRefused: (_entry, reason) => refusals.push(reason)
    })
    for (const [, body, headers] of FORBIDDEN) {
      const response = await callGateway(gateway.socketPath, {
        path: '/v1/messages?beta=true',
        headers,
        body
      })
      expect(response.status).toBe(400)
      expect(response.headers['x-should-retry']).toBe('false')
      const error = JSON.parse(response.body) as { type: string; error: { type: string } }
      expect(error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    }
    expect(upstream.requests).toHaveLength(0)
    expect(gateway.entries.map(entry => entry.refused)).toEqual([
      'field mcp_servers',
      'tool web_fetch_20250910',
      'beta files-api-2025-04-14'
    ])
    expect(gateway.figures().refused.map(group => group.count)).toEqual([1, 1, 1])
    expect(refusals).toEqual([
      expect.stringContaining('top-level field not allowed: mcp_servers'),
      expect.stringContaining('server tool not allowed: web_fetch_20250910'),
      expect.stringContaining('anthropic-beta flag not allowed: files-api-2025-04-14')
    ])
    // An allowed request passes afterwards; its session id is the one the host keeps, and a
    // later request cannot replace it.
    for (const session of ['session-of-the-cli', 'session-the-agent-chose']) {
      const ok = await callGateway(gateway.socketPath, {
        path: '/v1/messages?beta=true',
        headers: { 'x-claude-code-session-id': session },
        body: MESSAGES_BODY
      })
      expect(ok.status).toBe(200)
    }
    expect(upstream.requests).toHaveLength(2)
    expect(gateway.figures().sessionId).toBe('session-of-the-cli')
  })

  it('counts usage, turns and the last stop reason from streamed and JSON answers', async () => {
    const usage = { input_tokens: 100_000, output_tokens: 10_000, cache_read_input_tokens: 50_000 }
    const upstream = await fake([
      { tools: [{ name: 'Bash', input: { command: 'true' } }], usage },
      { text: 'done', usage }
    ])
    const gateway = await gatewayTo(upstream.url)
    const first = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: { ...MESSAGES_BODY, model: 'claude-sonnet-4-5' }
    })
    expect(first.body).toContain('message_delta')
    expect(gateway.figures()).toMatchObject({ turns: 1, lastTurnStopReason: 'tool_use' })
    await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: {
        ...MESSAGES_BODY,
        model: 'claude-sonnet-4-5',
        stream: false,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'x' },
          { role: 'user', content: 'go on' }
        ]
      }
    })
    const figures = gateway.figures()
    expect(figures).toMatchObject({
      forwarded: 2,
      turns: 2,
      lastTurnStopReason: 'end_turn',
      inputTokens: 200_000,
      outputTokens: 20_000,
      cacheReadTokens: 100_000
    })
    // claude-sonnet-4-5: $3 in, $15 out, $0.30 cache read per million; twice.
    expect(figures.costUsd).toBeCloseTo(2 * (0.3 + 0.15 + 0.015), 10)
  })

  it('refuses every request once max-budget-usd is reached, with a 402 the CLI does not retry', async () => {
    const usage = { input_tokens: 200_000, output_tokens: 1000 }
    const upstream = await fake([
      { tools: [{ name: 'Bash', input: { command: 'true' } }], usage },
      { tools: [{ name: 'Bash', input: { command: 'true' } }], usage },
      { text: 'never', usage }
    ])
    const reached: number[] = []
    const gateway = await gatewayTo(upstream.url, { apiKey: REAL_KEY }, 'budget.sock', {
      maxBudgetUsd: 1,
      onBudgetReached: figures => reached.push(figures.costUsd)
    })
    const ask = (turn: number) =>
      callGateway(gateway.socketPath, {
        path: '/v1/messages?beta=true',
        body: {
          ...MESSAGES_BODY,
          model: 'claude-opus-4-1', // $15 per million input: $3 a request here
          messages: Array.from({ length: 2 * turn + 1 }, (_, i) => ({
            role: i % 2 ? 'assistant' : 'user',
            content: 'x'
          }))
        }
      })
    expect((await ask(0)).status).toBe(200)
    expect(reached).toHaveLength(1)
    const refused = await ask(1)
    expect(refused.status).toBe(402)
    expect(refused.headers['x-should-retry']).toBe('false')
    expect(JSON.parse(refused.body)).toMatchObject({ error: { type: 'billing_error' } })
    expect(refused.body).toContain('max-budget-usd (1) reached')
    expect(upstream.requests).toHaveLength(1)
    expect(gateway.figures()).toMatchObject({
      budget: { capUsd: 1, reached: true },
      refused: [{ rule: 'max-budget-usd', count: 1 }]
    })
    expect(reached).toHaveLength(1)
  })

  it('gives up on an upstream that answers nothing (idle timeout): 504, logged', async () => {
    const upstream = await fake([{ hang: true }])
    const gateway = await gatewayTo(upstream.url, { apiKey: REAL_KEY }, 'idle.sock', {
      idleTimeoutMs: 300
    })
    const response = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    })
    expect(response.status).toBe(504)
    expect(response.body).toContain('sent nothing for')
    expect(response.elapsedMs).toBeLessThan(3000)
    expect(gateway.entries[0]).toMatchObject({ status: 504, allowed: true })
  })

  it('cuts a stream that goes silent mid-way (idle timeout)', async () => {
    const upstream = await fake([{ text: 'slow', eventDelayMs: 2000 }])
    const gateway = await gatewayTo(upstream.url, { apiKey: REAL_KEY }, 'stall.sock', {
      idleTimeoutMs: 300
    })
    const outcome = await callGateway(gateway.socketPath, {
      path: '/v1/messages?beta=true',
      body: MESSAGES_BODY
    }).then(
      response => `ended ${response.status} ${response.body.length}`,
      (error: unknown) => `failed ${String(error)}`
    )
    expect(outcome).toMatch(/^failed .*(aborted|socket hang up|ECONNRESET)/)
    expect(gateway.entries[0]?.error).toContain('sent nothing for')
  })

  it('gives up on a connection not made in time (connect timeout, here a proxy that never answers CONNECT)', async () => {
    const silent = createHttpServer()
    const held: Array<{ destroy(): void }> = []
    silent.on('connect', (_req, socket) => held.push(socket)) // accepts CONNECT, never answers
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const proxyPort = (silent.address() as AddressInfo).port
      const gateway = await gatewayTo('https://127.0.0.1:9', { apiKey: REAL_KEY }, 'conn.sock', {
        upstreamProxy: `http://127.0.0.1:${proxyPort}`,
        connectTimeoutMs: 300
      })
      const response = await callGateway(gateway.socketPath, {
        path: '/v1/messages?beta=true',
        body: MESSAGES_BODY
      })
      expect(response.status).toBe(504)
      expect(response.body).toContain('no connection within')
      expect(response.elapsedMs).toBeLessThan(3000)
    } finally {
      for (const socket of held) socket.destroy()
      await new Promise<void>(resolve => silent.close(() => resolve()))
    }
  })
})
