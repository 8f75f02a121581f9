/**
 * Benchmarks the egress proxy on loopback: added latency per plain HTTP request (p50/p95 through
 * the proxy vs direct) and CONNECT tunnel throughput (vs a direct TCP connection), both ways.
 * Run: npx tsx scripts/bench-proxy.ts   (exits 1 when a target is missed; bounded to ~60 s)
 *
 * Targets: p50 added latency <= 2 ms; CONNECT >= 100 MB/s.
 * Only loopback and a Unix socket in a temporary directory are used; the benchmark's host name
 * exists only in the injected resolver.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { Agent, createServer as createHttpServer, request, type RequestOptions } from 'node:http'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllowedDomains } from '../src/egress/allow-list.js'
import { startEgressProxy } from '../src/egress/proxy.js'
import { announceQuick, failUnless, sized, verdict } from './bench-mode.js'

const REQUESTS = sized(500, 50)
const WARMUP = sized(50, 5)
const TUNNEL_BYTES = sized(256, 16) * 1024 * 1024
const TARGET_P50_ADDED_MS = 2
const TARGET_MB_PER_S = 100
const HOST = 'bench.test'

const overall = setTimeout(() => {
  console.error('bench-proxy: gave up after 90 s')
  process.exit(2)
}, 90_000)
overall.unref()

async function main(): Promise<void> {
  announceQuick('bench-proxy')
  const dir = await mkdtemp(join(tmpdir(), 'bench-proxy-'))
  const httpServer = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 })
    res.end('ok')
  })
  const httpPort = await listen(httpServer)
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  // Each connection first says which way to stream: 'D' = server sends, 'U' = server receives.
  const streamServer = createServer(socket => {
    socket.on('error', () => socket.destroy())
    socket.once('data', (first: Buffer) => {
      if (first[0] === 0x44) sendBytes(socket, chunk, TUNNEL_BYTES)
      else socket.resume()
    })
  })
  const streamPort = await listen(streamServer)
  const proxy = await startEgressProxy({
    socketPath: join(dir, 'proxy.sock'),
    allowList: parseAllowedDomains(`${HOST}, 127.0.0.1`),
    resolve: async () => ['127.0.0.1']
  })

  try {
    const direct = await latencies({ host: '127.0.0.1', port: httpPort, path: '/' })
    const proxied = await latencies({
      socketPath: proxy.socketPath,
      path: `http://${HOST}:${httpPort}/`
    })
    const p50Added = percentile(proxied, 50) - percentile(direct, 50)
    const p95Added = percentile(proxied, 95) - percentile(direct, 95)
    console.log(
      `HTTP latency over ${REQUESTS} sequential keep-alive requests (after ${WARMUP} warm-up):`
    )
    console.log(`  direct  p50 ${ms(percentile(direct, 50))}  p95 ${ms(percentile(direct, 95))}`)
    console.log(`  proxied p50 ${ms(percentile(proxied, 50))}  p95 ${ms(percentile(proxied, 95))}`)
    console.log(`  added   p50 ${ms(p50Added)}  p95 ${ms(p95Added)}`)

    const results: Array<[string, number, number]> = []
    for (const direction of ['download', 'upload'] as const) {
      const directRate = await measuredOnceMore(() => throughput(() => tcp(streamPort), direction))
      const tunnelRate = await measuredOnceMore(() =>
        throughput(() => tunnel(proxy.socketPath, streamPort), direction)
      )
      results.push([direction, directRate, tunnelRate])
    }
    const mb = TUNNEL_BYTES / 1024 / 1024
    console.log(`CONNECT throughput, ${mb} MB per run:`)
    for (const [direction, directRate, tunnelRate] of results) {
      const ratio = ((tunnelRate / directRate) * 100).toFixed(0)
      console.log(
        `  ${direction.padEnd(8)} direct ${rate(directRate)}  tunnel ${rate(tunnelRate)}  (${ratio}% of direct)`
      )
    }

    const minTunnel = Math.min(...results.map(([, , tunnelRate]) => tunnelRate))
    const latencyOk = p50Added <= TARGET_P50_ADDED_MS
    const throughputOk = minTunnel / 1e6 >= TARGET_MB_PER_S
    console.log(
      `Targets: p50 added latency <= ${TARGET_P50_ADDED_MS} ms: ${verdict(latencyOk)} ` +
        `(${ms(p50Added)}); CONNECT >= ${TARGET_MB_PER_S} MB/s: ${verdict(throughputOk)} ` +
        `(${rate(minTunnel)} slowest direction)`
    )
    const allowed = proxy.entries.filter(entry => entry.allowed).length
    console.log(`Proxy decisions logged: ${proxy.entries.length} (${allowed} allowed)`)
    failUnless(latencyOk && throughputOk)
  } finally {
    await proxy.close()
    await close(httpServer)
    await close(streamServer)
    await rm(dir, { recursive: true, force: true })
  }
}

async function latencies(target: RequestOptions): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const samples: number[] = []
  try {
    for (let i = 0; i < WARMUP + REQUESTS; i++) {
      const started = process.hrtime.bigint()
      await get({ ...target, agent })
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6
      if (i >= WARMUP) samples.push(elapsed)
    }
  } finally {
    agent.destroy()
  }
  return samples.sort((a, b) => a - b)
}

function get(options: RequestOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ ...options, timeout: 5_000 }, res => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
      res.resume()
      res.once('end', () => resolve())
    })
    req.once('timeout', () => req.destroy(new Error('request timed out')))
    req.once('error', reject)
    req.end()
  })
}

/**
 * A throughput run, and once more if it failed, saying why: one CI run (two cores, the e2e suite
 * beside it) saw a run end early, and the cause could not be read from what the test kept. The
 * proxy's own test moves 10 MB each way and checks every byte; here a second failure still fails.
 */
async function measuredOnceMore(run: () => Promise<number>): Promise<number> {
  try {
    return await run()
  } catch (error: unknown) {
    console.error(
      `bench-proxy: a throughput run failed (${error instanceof Error ? error.message : String(error)}); measuring it again`
    )
    return run()
  }
}

/** Bytes per second moving TUNNEL_BYTES one way over a fresh connection. */
async function throughput(
  open: () => Promise<Socket>,
  direction: 'download' | 'upload'
): Promise<number> {
  const socket = await open()
  const started = process.hrtime.bigint()
  if (direction === 'download') {
    socket.write('D')
    let received = 0
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (data: Buffer) => (received += data.length))
      socket.once('end', () => resolve())
      socket.once('error', reject)
      socket.resume()
    })
    if (received !== TUNNEL_BYTES) throw new Error(`received ${received} of ${TUNNEL_BYTES} bytes`)
  } else {
    socket.write('U')
    sendBytes(socket, Buffer.alloc(64 * 1024, 0x62), TUNNEL_BYTES)
    await new Promise<void>((resolve, reject) => {
      socket.once('close', () => resolve())
      socket.once('error', reject)
      socket.resume()
    })
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  socket.destroy()
  return TUNNEL_BYTES / seconds
}

/** Writes `total` bytes with backpressure, then ends the socket. */
function sendBytes(socket: Socket, chunk: Buffer, total: number): void {
  let sent = 0
  const pump = (): void => {
    while (sent < total) {
      const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent)
      sent += piece.length
      if (!socket.write(piece)) {
        socket.once('drain', pump)
        return
      }
    }
    socket.end()
  }
  pump()
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket))
    socket.once('error', reject)
  })
}

function tunnel(socketPath: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    socket.once('error', reject)
    socket.write(`CONNECT ${HOST}:${port} HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`)
    let head = ''
    const onData = (data: Buffer): void => {
      head += data.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.removeListener('data', onData)
      socket.pause()
      if (!head.startsWith('HTTP/1.1 200'))
        reject(new Error(`CONNECT refused: ${head.split('\r\n')[0]}`))
      else resolve(socket)
    }
    socket.on('data', onData)
  })
}

function listen(server: Server): Promise<number> {
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  )
}

function close(server: Server): Promise<void> {
  if ('closeAllConnections' in server && typeof server.closeAllConnections === 'function')
    server.closeAllConnections()
  return new Promise(resolve => server.close(() => resolve()))
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)] as number
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`
}

function rate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 2
})
