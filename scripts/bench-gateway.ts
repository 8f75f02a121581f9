/**
 * Benchmarks the credential gateway with the API door's policy on, in one run:
 * - added latency of a streamed Messages response (time to its last byte through the gateway's
 *   Unix socket vs straight to the same upstream on loopback), p50 and p95 over 300 requests;
 * - the same for Amazon Bedrock: the answer as `application/vnd.amazon.eventstream` frames,
 *   every request checked on Bedrock's shape and signed with SigV4 by the gateway, the usage read
 *   from the binary frames;
 * - the policy's own cost for a 1 MB request body (parse, check, re-serialize), p50 and max.
 * Run: npx tsx scripts/bench-gateway.ts   (exits 1 when a target is missed; bounded to ~60 s)
 * BENCH_QUICK=1: few requests, figures only, no verdict.
 *
 * Targets: p50 added latency <= 2 ms (Anthropic and Bedrock); policy on a 1 MB body <= 10 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, createServer, request, type RequestOptions } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { EventStreamCodec } from '@smithy/core/event-streams'
import { fromUtf8, toUtf8 } from '@smithy/util-utf8'
import { checkRequest } from '../src/api-door/api-policy.js'
import { startGateway } from '../src/api-door/gateway.js'
import { bedrockProvider } from '../src/api-door/providers/bedrock.js'
import { announceQuick, failUnless, sized, verdict } from './bench-mode.js'

const REQUESTS = sized(300, 30)
const WARMUP = sized(30, 5)
const POLICY_RUNS = sized(40, 10)
const TARGET_P50_ADDED_MS = 2
const TARGET_POLICY_MS = 10

const overall = setTimeout(() => {
  console.error('bench-gateway: gave up after 60 s')
  process.exit(2)
}, 60_000)
overall.unref()

/** A streamed answer like the API's: message_start, 40 text deltas, message_delta, message_stop. */
function sseAnswer(): string {
  const events: Array<[string, unknown]> = [
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_bench',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [],
          usage: { input_tokens: 12_000, cache_read_input_tokens: 40_000, output_tokens: 1 }
        }
      }
    ],
    [
      'content_block_start',
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }
    ]
  ]
  for (let i = 0; i < 40; i++) {
    events.push([
      'content_block_delta',
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: `Some streamed words of the answer, part ${i}. ` }
      }
    ])
  }
  events.push(['content_block_stop', { type: 'content_block_stop', index: 0 }])
  events.push([
    'message_delta',
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 400 }
    }
  ])
  events.push(['message_stop', { type: 'message_stop' }])
  return events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('')
}

/** A 1 MB body shaped like a long conversation of the CLI's: text, tool calls, tool results. */
function oneMegabyteBody(): Buffer {
  const messages: unknown[] = [{ role: 'user', content: 'Fix the failing tests.' }]
  const tools = ['Bash', 'Read', 'Edit', 'Write', 'Glob', 'Grep'].map(name => ({
    name,
    description: `The ${name} tool. `.repeat(40),
    input_schema: { type: 'object', properties: { command: { type: 'string' } } }
  }))
  let turn = 0
  const body = (): string =>
    JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 32_000,
      stream: true,
      system: [{ type: 'text', text: 'You are Claude Code. '.repeat(200) }],
      tools,
      messages
    })
  while (Buffer.byteLength(body()) < 1024 * 1024) {
    const id = `toolu_${turn++}`
    messages.push({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Let me look at the file.' },
        { type: 'tool_use', id, name: 'Read', input: { file_path: `/workspace/src/f${turn}.ts` } }
      ]
    })
    messages.push({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: id,
          content: [{ type: 'text', text: 'export const x = 1 // a line of source\n'.repeat(60) }]
        }
      ]
    })
  }
  return Buffer.from(body())
}

async function main(): Promise<void> {
  announceQuick('bench-gateway')
  const answer = sseAnswer()
  const upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' })
      res.end(answer)
    })
  })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as AddressInfo).port
  const dir = await mkdtemp(join(tmpdir(), 'bench-gateway-'))
  const gateway = await startGateway({
    socketPath: join(dir, 'gateway.sock'),
    upstream: `http://127.0.0.1:${port}`,
    credentials: { apiKey: 'sk-ant-bench' },
    policy: { webSearch: false }
  })
  const payload = JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 1000,
    stream: true,
    tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
    messages: [{ role: 'user', content: 'hi' }]
  })
  const headers = {
    'content-type': 'application/json',
    'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14'
  }
  try {
    const directAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const gatewayAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const direct: number[] = []
    const through: number[] = []
    // Alternate, so both see the same machine load.
    for (let i = 0; i < REQUESTS + WARMUP; i++) {
      const a = await timed({ host: '127.0.0.1', port, agent: directAgent }, payload, headers)
      const b = await timed(
        { socketPath: gateway.socketPath, agent: gatewayAgent },
        payload,
        headers
      )
      if (i >= WARMUP) {
        direct.push(a)
        through.push(b)
      }
    }
    directAgent.destroy()
    gatewayAgent.destroy()
    const figures = gateway.figures()
    const addedP50 = percentile(through, 50) - percentile(direct, 50)
    const addedP95 = percentile(through, 95) - percentile(direct, 95)

    const bedrock = await measureBedrock(answer)

    const big = oneMegabyteBody()
    const policyMs: number[] = []
    for (let i = 0; i < POLICY_RUNS + 5; i++) {
      const started = performance.now()
      const verdict = checkRequest(
        { method: 'POST', path: '/v1/messages?beta=true', headers, body: big },
        { webSearch: false }
      )
      const ms = performance.now() - started
      if (!verdict.allowed) throw new Error(`the 1 MB body was refused: ${verdict.reason}`)
      if (i >= 5) policyMs.push(ms)
    }
    const policyP50 = percentile(policyMs, 50)

    console.log(`streamed response, ${Buffer.byteLength(answer)} bytes, ${REQUESTS} requests:`)
    console.log(
      `  direct p50 ${fmt(percentile(direct, 50))} ms, p95 ${fmt(percentile(direct, 95))} ms`
    )
    console.log(
      `  through the gateway (policy on, usage read) p50 ${fmt(percentile(through, 50))} ms, p95 ${fmt(percentile(through, 95))} ms`
    )
    console.log(
      `  added latency p50 ${fmt(addedP50)} ms (target <= ${TARGET_P50_ADDED_MS}), p95 ${fmt(addedP95)} ms`
    )
    console.log(
      `  the gateway counted ${figures.turns} turns, ${figures.outputTokens} output tokens, $${figures.costUsd.toFixed(4)}`
    )
    console.log(
      `policy on a ${(big.length / 1024 / 1024).toFixed(2)} MB body (parse, check, re-serialize), ${POLICY_RUNS} runs:`
    )
    console.log(
      `  p50 ${fmt(policyP50)} ms (target <= ${TARGET_POLICY_MS}), max ${fmt(Math.max(...policyMs))} ms`
    )
    console.log(
      `Amazon Bedrock: ${bedrock.bytes} bytes of event-stream frames, SigV4-signed, ${REQUESTS} requests:`
    )
    console.log(
      `  direct p50 ${fmt(bedrock.directP50)} ms; through the gateway p50 ${fmt(bedrock.throughP50)} ms`
    )
    console.log(
      `  added latency p50 ${fmt(bedrock.addedP50)} ms (target <= ${TARGET_P50_ADDED_MS}), p95 ${fmt(bedrock.addedP95)} ms; Anthropic's ${fmt(addedP50)} ms`
    )
    console.log(
      `  the gateway counted ${bedrock.turns} turns, ${bedrock.outputTokens} output tokens from the frames`
    )
    if (figures.turns !== REQUESTS + WARMUP) throw new Error('the gateway missed some usage')
    if (bedrock.turns !== REQUESTS + WARMUP) throw new Error('the gateway missed Bedrock usage')
    const met =
      addedP50 <= TARGET_P50_ADDED_MS &&
      bedrock.addedP50 <= TARGET_P50_ADDED_MS &&
      policyP50 <= TARGET_POLICY_MS
    console.log(`targets: ${verdict(met)}`)
    failUnless(met)
  } finally {
    await gateway.close()
    upstream.closeAllConnections()
    await new Promise<void>(resolve => upstream.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The same answer as Bedrock streams it (each event a frame holding its JSON in base64), through
 * the gateway with the Bedrock provider: the policy on Bedrock's shape and SigV4 signing on.
 */
async function measureBedrock(sse: string): Promise<{
  bytes: number
  directP50: number
  throughP50: number
  addedP50: number
  addedP95: number
  turns: number
  outputTokens: number
}> {
  const codec = new EventStreamCodec(toUtf8, fromUtf8)
  const frames = Buffer.concat(
    sse
      .split('\n\n')
      .filter(event => event.includes('data: '))
      .map(event => event.slice(event.indexOf('data: ') + 6))
      .map(json =>
        codec.encode({
          headers: {
            ':event-type': { type: 'string', value: 'chunk' },
            ':content-type': { type: 'string', value: 'application/json' },
            ':message-type': { type: 'string', value: 'event' }
          },
          body: fromUtf8(JSON.stringify({ bytes: Buffer.from(json).toString('base64') }))
        })
      )
  )
  const upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' })
      res.end(frames)
    })
  })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  const port = (upstream.address() as AddressInfo).port
  const dir = await mkdtemp(join(tmpdir(), 'bench-gateway-bedrock-'))
  const credentials = {
    accessKeyId: 'AKIABENCH',
    secretAccessKey: 'bench/secret',
    sessionToken: 'bench-session'
  }
  const gateway = await startGateway({
    socketPath: join(dir, 'gateway.sock'),
    upstream: `http://127.0.0.1:${port}`,
    provider: bedrockProvider({ region: 'us-east-1', credentials: async () => credentials }),
    policy: { webSearch: false }
  })
  const path = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream'
  const payload = JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    anthropic_beta: ['interleaved-thinking-2025-05-14'],
    max_tokens: 1000,
    tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
    messages: [{ role: 'user', content: 'hi' }]
  })
  const headers = { 'content-type': 'application/json' }
  try {
    const directAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const gatewayAgent = new Agent({ keepAlive: true, maxSockets: 1 })
    const direct: number[] = []
    const through: number[] = []
    for (let i = 0; i < REQUESTS + WARMUP; i++) {
      const a = await timed({ host: '127.0.0.1', port, agent: directAgent }, payload, headers, path)
      const b = await timed(
        { socketPath: gateway.socketPath, agent: gatewayAgent },
        payload,
        headers,
        path
      )
      if (i >= WARMUP) {
        direct.push(a)
        through.push(b)
      }
    }
    directAgent.destroy()
    gatewayAgent.destroy()
    const figures = gateway.figures()
    return {
      bytes: frames.length,
      directP50: percentile(direct, 50),
      throughP50: percentile(through, 50),
      addedP50: percentile(through, 50) - percentile(direct, 50),
      addedP95: percentile(through, 95) - percentile(direct, 95),
      turns: figures.turns,
      outputTokens: figures.outputTokens
    }
  } finally {
    await gateway.close()
    upstream.closeAllConnections()
    await new Promise<void>(resolve => upstream.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  }
}

/** Milliseconds from sending the request to the response's last byte. */
function timed(
  target: RequestOptions,
  payload: string,
  headers: Record<string, string>,
  path = '/v1/messages?beta=true'
): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request({ ...target, method: 'POST', path, headers }, res => {
      res.resume()
      res.on('end', () => resolve(performance.now() - started))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

function fmt(ms: number): string {
  return ms.toFixed(2)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
})
