import { describe, it, expect, beforeAll, afterAll, afterEach, jest } from '@jest/globals'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllowedDomains } from '../../src/egress/allow-list.js'
import { formatDeniedHosts } from '../../src/report/denied-hosts.js'
import { startEgressProxy, type EgressProxy, type ProxyLogEntry } from '../../src/egress/proxy.js'

// Every socket here is on loopback or a Unix socket. Names like `allowed.test` exist only in the
// injected resolver; addresses like 10.0.0.1 are only ever resolver answers that must be refused
// before any connection is attempted.

interface Upstream {
  port: number
  accepts: number
  openServerSockets: Set<Socket>
  close(): Promise<void>
}

interface HttpUpstream extends Upstream {
  requests: Array<{ method: string; url: string; host: string; body: string; headers: string[] }>
}

jest.setTimeout(60_000)

/** Every upstream connection the proxies attempt, in order. */
const connectAttempts: string[] = []

/** The proxies' connector in these tests: loopback only, so a regression can't reach out. */
function guardedConnect(options: { host: string; port: number; noDelay: boolean }): Socket {
  connectAttempts.push(options.host)
  if (!/^127\./.test(options.host) && options.host !== '::1') {
    throw new Error(`test guard: refused to connect to non-loopback ${options.host}`)
  }
  return connect(options)
}

let dir: string
let httpUpstream: HttpUpstream
let echoUpstream: Upstream
const proxies: EgressProxy[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'egress-proxy-'))
  httpUpstream = await startHttpUpstream()
  echoUpstream = await startEchoUpstream()
})

afterEach(async () => {
  await Promise.all(proxies.splice(0).map(proxy => proxy.close()))
})

afterAll(async () => {
  await httpUpstream.close()
  await echoUpstream.close()
  await rm(dir, { recursive: true, force: true })
})

describe('egress proxy', () => {
  it('tunnels CONNECT to an allowed host, 10 MB each way intact, to the checked address', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const ended: ProxyLogEntry[] = []
    const proxy = await start('allowed.test, 127.0.0.1/32', resolver.resolve, {
      logEnd: entry => ended.push({ ...entry })
    })
    const before = echoUpstream.accepts

    const tunnel = await openTunnel(proxy.socketPath, `allowed.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(200)
    const payload = randomBytes(10 * 1024 * 1024)
    const echoed = await echo(tunnel.socket, payload, tunnel.rest)
    expect(echoed.length).toBe(payload.length)
    expect(sha256(echoed)).toBe(sha256(payload))
    expect(echoUpstream.accepts).toBe(before + 1)
    expect(resolver.calls).toEqual(['allowed.test'])

    tunnel.socket.end()
    await waitFor(() => ended.length === 1)
    expect(ended[0]).toMatchObject({
      method: 'CONNECT',
      host: 'allowed.test',
      port: echoUpstream.port,
      allowed: true,
      address: '127.0.0.1',
      bytesIn: payload.length,
      bytesOut: payload.length
    })
    expect(proxy.deniedHosts()).toEqual([])
  })

  it('forwards absolute-form HTTP requests: Host from the URL, body kept, proxy headers dropped', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const proxy = await start('allowed.test, 127.0.0.0/8', resolver.resolve)
    const url = `http://allowed.test:${httpUpstream.port}/some/path?q=1`
    const response = await proxyRequest(proxy.socketPath, url, {
      method: 'POST',
      body: 'hello body',
      headers: {
        host: 'unlisted.test',
        'proxy-authorization': 'Basic c2VjcmV0',
        'x-custom': 'kept'
      }
    })
    expect(response.status).toBe(200)
    expect(response.body).toBe('upstream says hi: POST /some/path?q=1')
    expect(response.headers['x-upstream']).toBe('yes')
    const seen = httpUpstream.requests.at(-1)
    expect(seen).toMatchObject({
      method: 'POST',
      url: '/some/path?q=1',
      host: `allowed.test:${httpUpstream.port}`,
      body: 'hello body'
    })
    const headerNames = (seen?.headers ?? []).filter((_value, i) => i % 2 === 0)
    expect(headerNames.map(name => name.toLowerCase())).toContain('x-custom')
    expect(headerNames.map(name => name.toLowerCase())).not.toContain('proxy-authorization')
    expect(proxy.entries.at(-1)).toMatchObject({
      method: 'HTTP',
      allowed: true,
      address: '127.0.0.1'
    })
  })

  it('denies a host that is not listed with 403, before resolving or connecting', async () => {
    const resolver = fakeResolver({ 'other.test': ['127.0.0.1'] })
    const logged: ProxyLogEntry[] = []
    const proxy = await start('allowed.test, 127.0.0.0/8', resolver.resolve, {
      log: entry => logged.push(entry)
    })
    const beforeEcho = echoUpstream.accepts
    const beforeHttp = httpUpstream.accepts
    const attemptsBefore = connectAttempts.length

    const tunnel = await openTunnel(proxy.socketPath, `other.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(403)
    expect(tunnel.body).toBe('claude-sandbox proxy: host not in allowed-domains: other.test\n')
    const response = await proxyRequest(proxy.socketPath, `http://other.test:${httpUpstream.port}/`)
    expect(response.status).toBe(403)
    expect(response.body).toContain('host not in allowed-domains: other.test')

    expect(resolver.calls).toEqual([])
    expect(connectAttempts.length).toBe(attemptsBefore)
    expect(echoUpstream.accepts).toBe(beforeEcho)
    expect(httpUpstream.accepts).toBe(beforeHttp)
    expect(logged.map(entry => [entry.method, entry.allowed, entry.reason])).toEqual([
      ['CONNECT', false, 'host not in allowed-domains'],
      ['HTTP', false, 'host not in allowed-domains']
    ])
  })

  it.each([
    ['127.0.0.1'],
    ['10.0.0.1'],
    ['169.254.169.254'],
    ['::1'],
    ['::ffff:127.0.0.1'],
    ['fd00:ec2::254']
  ])('denies an allowed name that resolves to %s, without connecting', async address => {
    const resolver = fakeResolver({ 'internal.test': [address] })
    const proxy = await start('internal.test', resolver.resolve)
    const before = echoUpstream.accepts
    const attemptsBefore = connectAttempts.length
    const tunnel = await openTunnel(proxy.socketPath, `internal.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(403)
    expect(tunnel.body).toBe(
      'claude-sandbox proxy: host resolves to a private address: internal.test\n'
    )
    const response = await proxyRequest(
      proxy.socketPath,
      `http://internal.test:${echoUpstream.port}/`
    )
    expect(response.status).toBe(403)
    expect(connectAttempts.length).toBe(attemptsBefore)
    expect(echoUpstream.accepts).toBe(before)
    expect(proxy.entries.map(entry => entry.allowed)).toEqual([false, false])
    expect(proxy.entries[0]?.reason).toBe('host resolves to a private address')
    expect(proxy.entries[0]?.address).toBeDefined()
  })

  it('denies when any one of the resolved addresses is private', async () => {
    const resolver = fakeResolver({ 'mixed.test': ['127.0.0.1', '10.0.0.1'] })
    const proxy = await start('mixed.test, 127.0.0.1', resolver.resolve)
    const before = echoUpstream.accepts
    const attemptsBefore = connectAttempts.length
    const tunnel = await openTunnel(proxy.socketPath, `mixed.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(403)
    expect(proxy.entries[0]?.address).toBe('10.0.0.1')
    expect(connectAttempts.length).toBe(attemptsBefore)
    expect(echoUpstream.accepts).toBe(before)
  })

  it('allows an IP literal covered by a CIDR entry, without resolving', async () => {
    const resolver = fakeResolver({})
    const proxy = await start('127.0.0.0/8', resolver.resolve)
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${echoUpstream.port}`)
    expect(tunnel.status).toBe(200)
    const echoed = await echo(tunnel.socket, Buffer.from('ping'), tunnel.rest)
    expect(echoed.toString()).toBe('ping')
    tunnel.socket.destroy()
    const response = await proxyRequest(
      proxy.socketPath,
      `http://127.0.0.1:${httpUpstream.port}/ip`
    )
    expect(response.body).toBe('upstream says hi: GET /ip')
    // An uncovered literal is denied like an unlisted name.
    const denied = await openTunnel(proxy.socketPath, `[::1]:${echoUpstream.port}`)
    expect(denied.status).toBe(403)
    expect(denied.body).toContain('host not in allowed-domains: ::1')
    expect(resolver.calls).toEqual([])
  })

  it('connects to the address it checked and resolves once per request (DNS rebinding)', async () => {
    // First answer acceptable (loopback is allowed by CIDR here, standing in for a public address),
    // every later answer private. net.connect never sees the name: the system resolver cannot
    // resolve `rebind.test`, so success proves the checked address was used.
    const resolver = fakeResolver({ 'rebind.test': ['127.0.0.1'] }, ['10.0.0.1'])
    const proxy = await start('rebind.test, 127.0.0.1/32', resolver.resolve)
    const before = echoUpstream.accepts
    const attemptsBefore = connectAttempts.length

    const first = await openTunnel(proxy.socketPath, `rebind.test:${echoUpstream.port}`)
    expect(first.status).toBe(200)
    expect((await echo(first.socket, Buffer.from('x'), first.rest)).toString()).toBe('x')
    expect(resolver.calls).toEqual(['rebind.test'])
    expect(proxy.entries[0]).toMatchObject({ allowed: true, address: '127.0.0.1' })
    expect(echoUpstream.accepts).toBe(before + 1)
    first.socket.destroy()

    const second = await openTunnel(proxy.socketPath, `rebind.test:${echoUpstream.port}`)
    expect(second.status).toBe(403)
    expect(resolver.calls).toEqual(['rebind.test', 'rebind.test'])
    expect(proxy.entries[1]).toMatchObject({ allowed: false, address: '10.0.0.1' })
    expect(connectAttempts.slice(attemptsBefore)).toEqual(['127.0.0.1'])
    expect(echoUpstream.accepts).toBe(before + 1)
  })

  it('honours a port restriction', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const proxy = await start(`allowed.test:${httpUpstream.port}, 127.0.0.1`, resolver.resolve)
    const ok = await proxyRequest(proxy.socketPath, `http://allowed.test:${httpUpstream.port}/`)
    expect(ok.status).toBe(200)
    const denied = await openTunnel(proxy.socketPath, `allowed.test:${echoUpstream.port}`)
    expect(denied.status).toBe(403)
    expect(denied.body).toContain(`port ${echoUpstream.port} not in allowed-domains for this host`)
  })

  it('counts denied hosts, most denied first', async () => {
    const proxy = await start('allowed.test', fakeResolver({}).resolve)
    for (const host of ['a.test', 'b.test', 'a.test', 'A.TEST.', 'c.test', 'b.test']) {
      const tunnel = await openTunnel(proxy.socketPath, `${host}:443`)
      expect(tunnel.status).toBe(403)
    }
    await proxyRequest(proxy.socketPath, 'http://c.test/')
    await proxyRequest(proxy.socketPath, 'http://c.test/')
    expect(proxy.deniedHosts()).toEqual([
      { host: 'a.test', count: 3, reason: 'host not in allowed-domains' },
      { host: 'c.test', count: 3, reason: 'host not in allowed-domains' },
      { host: 'b.test', count: 2, reason: 'host not in allowed-domains' }
    ])
  })

  it('the job summary lists denied hosts, and its snippet allows exactly them', async () => {
    const resolver = fakeResolver({ 'mirror.test': ['10.0.0.7'] })
    const proxy = await start('mirror.test', resolver.resolve)
    for (const authority of [
      'pkgs.test:443',
      'pkgs.test:443',
      'mirror.test:443',
      '[2001:db8::1]:443'
    ]) {
      expect((await openTunnel(proxy.socketPath, authority)).status).toBe(403)
    }
    const markdown = formatDeniedHosts(proxy.deniedHosts())
    expect(markdown).toContain('| `pkgs.test` | 2 | host not in allowed-domains |')
    expect(markdown).toContain('| `mirror.test` | 1 | host resolves to a private address |')
    expect(markdown).toContain('| `2001:db8::1` | 1 |')
    const snippet = /```yaml\nallowed-domains: \|\n([\s\S]*?)```/.exec(markdown)?.[1] ?? ''
    const suggested = parseAllowedDomains(snippet)
    expect(suggested.entries.map(entry => entry.source)).toEqual([
      'pkgs.test',
      '2001:db8::1',
      'mirror.test'
    ])
    expect(snippet).toMatch(/mirror\.test +# resolves to a private address/)
    expect(formatDeniedHosts([])).toBe('')
  })

  it('answers 400 to requests that treat it as a server or are malformed', async () => {
    const proxy = await start('allowed.test', fakeResolver({}).resolve)
    const origin = await proxyRequest(proxy.socketPath, '/index.html')
    expect(origin.status).toBe(400)
    expect(origin.body).toContain('this is an HTTP proxy')
    const https = await proxyRequest(proxy.socketPath, 'https://allowed.test/')
    expect(https.status).toBe(400)
    for (const authority of [
      'allowed.test',
      'user@allowed.test:443',
      'allowed.test:0',
      'a b:443'
    ]) {
      const tunnel = await openTunnel(proxy.socketPath, authority)
      expect(tunnel.status).toBe(400)
    }
    expect(proxy.deniedHosts()).toEqual([])
  })

  it('answers 502 when an allowed upstream refuses the connection', async () => {
    const closedPort = await unusedPort()
    const proxy = await start('127.0.0.1', fakeResolver({}).resolve)
    const tunnel = await openTunnel(proxy.socketPath, `127.0.0.1:${closedPort}`)
    expect(tunnel.status).toBe(502)
    expect(proxy.entries[0]?.error).toMatch(/ECONNREFUSED/)
  })

  it('closes an idle tunnel', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const proxy = await start('allowed.test, 127.0.0.1', resolver.resolve, { idleTimeoutMs: 300 })
    const tunnel = await openTunnel(proxy.socketPath, `allowed.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(200)
    const started = Date.now()
    await new Promise(resolve => tunnel.socket.once('close', resolve))
    expect(Date.now() - started).toBeLessThan(3000)
    await waitFor(() => proxy.entries[0]?.error === 'idle timeout')
  })

  it('listens with mode 0666 and refuses to replace a file that is not a socket', async () => {
    const proxy = await start('allowed.test', fakeResolver({}).resolve)
    expect((await stat(proxy.socketPath)).mode & 0o777).toBe(0o666)
    const notSocket = join(dir, 'regular-file')
    await writeFile(notSocket, 'x')
    await expect(
      startEgressProxy({ socketPath: notSocket, allowList: parseAllowedDomains('') })
    ).rejects.toThrow(/not a socket/)
  })

  it('close() ends open tunnels and removes the socket file', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const proxy = await startEgressProxy({
      socketPath: join(dir, 'closing.sock'),
      allowList: parseAllowedDomains('allowed.test, 127.0.0.1'),
      resolve: resolver.resolve,
      connect: guardedConnect
    })
    const tunnel = await openTunnel(proxy.socketPath, `allowed.test:${echoUpstream.port}`)
    expect(tunnel.status).toBe(200)
    await echo(tunnel.socket, Buffer.from('before close'), tunnel.rest)
    await waitFor(() => echoUpstream.openServerSockets.size > 0)
    const clientClosed = new Promise(resolve => tunnel.socket.once('close', resolve))
    await proxy.close()
    await clientClosed
    expect(existsSync(proxy.socketPath)).toBe(false)
    await waitFor(() => echoUpstream.openServerSockets.size === 0)
    await proxy.close() // idempotent
  })

  it('works for real curl through a loopback forwarder (as socat does in the container)', async () => {
    const resolver = fakeResolver({ 'allowed.test': ['127.0.0.1'] })
    const proxy = await start('allowed.test, 127.0.0.1', resolver.resolve)
    const forwarder = await startForwarder(proxy.socketPath)
    try {
      const proxyUrl = `http://127.0.0.1:${forwarder.port}`
      const plain = await curl(['-x', proxyUrl, `http://allowed.test:${httpUpstream.port}/curl`])
      expect(plain.stdout).toBe('upstream says hi: GET /curl')
      // -p makes curl tunnel through CONNECT even for http://.
      const tunneled = await curl([
        '-p',
        '-x',
        proxyUrl,
        `http://allowed.test:${httpUpstream.port}/tunnel`
      ])
      expect(tunneled.stdout).toBe('upstream says hi: GET /tunnel')
      const denied = await curl([
        '-x',
        proxyUrl,
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `http://denied.test:${httpUpstream.port}/`
      ])
      expect(denied.stdout).toBe('403')
      const deniedTunnel = await curl([
        '-p',
        '-x',
        proxyUrl,
        `http://denied.test:${httpUpstream.port}/`
      ])
      expect(deniedTunnel.code).not.toBe(0)
      expect(deniedTunnel.stderr).toMatch(/403/)
      expect(proxy.deniedHosts()).toEqual([
        { host: 'denied.test', count: 2, reason: 'host not in allowed-domains' }
      ])
      expect(proxy.entries.filter(entry => entry.allowed).map(entry => entry.method)).toEqual([
        'HTTP',
        'CONNECT'
      ])
    } finally {
      await forwarder.close()
    }
  })
})

async function start(
  allowed: string,
  resolve: (host: string) => Promise<string[]>,
  extra: {
    log?: (entry: ProxyLogEntry) => void
    logEnd?: (entry: ProxyLogEntry) => void
    idleTimeoutMs?: number
  } = {}
): Promise<EgressProxy> {
  const proxy = await startEgressProxy({
    socketPath: join(dir, `proxy-${proxies.length}-${Date.now()}.sock`),
    allowList: parseAllowedDomains(allowed),
    resolve,
    connect: guardedConnect,
    ...extra
  })
  proxies.push(proxy)
  return proxy
}

/** Answers from `table`; after a name's first answer, `later` (if given) for every call. */
function fakeResolver(
  table: Record<string, string[]>,
  later?: string[]
): { resolve: (host: string) => Promise<string[]>; calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    resolve: async (host: string) => {
      const first = !calls.includes(host)
      calls.push(host)
      const answer = later && !first ? later : table[host]
      if (answer === undefined)
        throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' })
      return answer
    }
  }
}

interface TunnelResult {
  status: number
  socket: Socket
  /** Bytes after the response head (the start of tunnelled data, or a denial's body). */
  rest: Buffer
  body: string
}

/** Sends CONNECT over the Unix socket; for a non-200 answer, reads the body to the end. */
function openTunnel(socketPath: string, authority: string): Promise<TunnelResult> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    const timer = setTimeout(() => reject(new Error('CONNECT timed out')), 10_000)
    let buffered = Buffer.alloc(0)
    socket.on('error', reject)
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffered.toString('latin1'))?.[1])
      const rest = buffered.subarray(end + 4)
      socket.removeListener('data', onData)
      if (status === 200) {
        clearTimeout(timer)
        socket.pause()
        resolve({ status, socket, rest, body: '' })
        return
      }
      const chunks: Buffer[] = [rest]
      socket.on('data', (more: Buffer) => chunks.push(more))
      socket.once('close', () => {
        clearTimeout(timer)
        resolve({ status, socket, rest, body: Buffer.concat(chunks).toString() })
      })
    }
    socket.on('data', onData)
  })
}

/** Writes `payload` through an echo tunnel while reading the same number of bytes back. */
function echo(socket: Socket, payload: Buffer, already: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [already]
    let received = already.length
    const timer = setTimeout(() => reject(new Error('echo timed out')), 30_000)
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      received += chunk.length
      if (received >= payload.length) {
        clearTimeout(timer)
        socket.removeListener('data', onData)
        resolve(Buffer.concat(chunks))
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.resume()
    socket.write(payload)
  })
}

function proxyRequest(
  socketPath: string,
  target: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {}
): Promise<{
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: target,
        method: options.method ?? 'GET',
        headers: options.headers,
        timeout: 10_000
      },
      res => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers
          })
        )
        res.on('error', reject)
      }
    )
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(options.body)
  })
}

function startHttpUpstream(): Promise<HttpUpstream> {
  const requests: HttpUpstream['requests'] = []
  const openServerSockets = new Set<Socket>()
  const upstream = { port: 0, accepts: 0, requests, openServerSockets } as unknown as HttpUpstream
  const server: HttpServer = createHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        host: req.headers.host ?? '',
        body: Buffer.concat(chunks).toString(),
        headers: req.rawHeaders
      })
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
      res.end(`upstream says hi: ${req.method} ${req.url}`)
    })
  })
  return listenUpstream(server, upstream)
}

function startEchoUpstream(): Promise<Upstream> {
  const openServerSockets = new Set<Socket>()
  const upstream = { port: 0, accepts: 0, openServerSockets } as unknown as Upstream
  const server = createServer(socket => {
    socket.on('error', () => socket.destroy())
    socket.pipe(socket)
  })
  return listenUpstream(server, upstream)
}

function listenUpstream<T extends Upstream>(server: Server | HttpServer, upstream: T): Promise<T> {
  server.on('connection', (socket: Socket) => {
    upstream.accepts++
    upstream.openServerSockets.add(socket)
    socket.once('close', () => upstream.openServerSockets.delete(socket))
  })
  return new Promise(resolve => {
    server.listen(0, '127.0.0.1', () => {
      upstream.port = (server.address() as AddressInfo).port
      upstream.close = () =>
        new Promise(done => {
          for (const socket of upstream.openServerSockets) socket.destroy()
          server.close(() => done())
        })
      resolve(upstream)
    })
  })
}

/** Loopback TCP port -> the proxy's Unix socket, as socat does inside the container. */
function startForwarder(socketPath: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(client => {
    const upstream = connect(socketPath)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  return new Promise(resolve => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise(done => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    )
  })
}

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(
      'curl',
      ['-sS', '--max-time', '10', ...args],
      // No proxy variables from the outside world; the test names the proxy with -x.
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 15_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0
        resolve({ code, stdout, stderr })
      }
    )
  })
}

async function unusedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}
