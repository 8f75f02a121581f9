import { lookup } from 'node:dns/promises'
import { chmod, lstat, unlink } from 'node:fs/promises'
import {
  STATUS_CODES,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse
} from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import {
  isAddressAllowedByIp,
  isHostAllowed,
  isPublicAddress,
  normalizeHostName,
  normalizeIpLiteral,
  type AllowList
} from './allow-list.js'

/**
 * The egress proxy of `network: restricted`: an HTTP proxy (absolute-form requests and CONNECT)
 * on a Unix socket that the container reaches through a loopback forwarder. It lets through
 * only what `allowed-domains` names, resolves names itself, refuses non-public addresses that
 * no IP/CIDR entry covers, and connects to exactly the address it checked, so a DNS answer that
 * changes between check and use (rebinding) cannot redirect the connection.
 */

export interface ProxyLogEntry {
  /** ISO time of the decision. */
  time: string
  method: 'CONNECT' | 'HTTP'
  host: string
  port: number
  allowed: boolean
  /** Why it was denied, or why an allowed connection failed. */
  reason?: string
  /** The checked address connected to (allowed) or refused (denied after resolution). */
  address?: string
  /** Bytes from upstream to the client; set when an allowed connection ends. */
  bytesIn?: number
  /** Bytes from the client to upstream; set when an allowed connection ends. */
  bytesOut?: number
  /** Set when an allowed connection ends. */
  durationMs?: number
  /** Set when an allowed connection failed (resolution, connect, timeout, reset). */
  error?: string
}

export interface DeniedHost {
  host: string
  count: number
  /** The reason of the first denial, e.g. `host not in allowed-domains`. */
  reason: string
}

export interface EgressProxyOptions {
  socketPath: string
  allowList: AllowList
  /** Name to addresses. Defaults to the system resolver (getaddrinfo, every address). */
  resolve?: (host: string) => Promise<string[]>
  /**
   * Opens the upstream TCP connection to a checked address (never a name). Defaults to
   * net.connect; tests inject a guard that refuses anything but loopback.
   */
  connect?: (options: { host: string; port: number; noDelay: boolean }) => Socket
  /** Called at each decision, allowed or denied. */
  log?: (entry: ProxyLogEntry) => void
  /** Called when an allowed connection ends, with bytes, duration and any error filled in. */
  logEnd?: (entry: ProxyLogEntry) => void
  connectTimeoutMs?: number
  resolveTimeoutMs?: number
  /** A tunnel or request with no bytes either way for this long is closed. */
  idleTimeoutMs?: number
  /** How many entries `entries` keeps (oldest dropped first); denied counts are kept apart. */
  maxEntries?: number
  /** How many distinct denied hosts are counted; beyond that only `deniedHostsOmitted` grows. */
  maxDeniedHosts?: number
}

export interface EgressProxy {
  readonly socketPath: string
  /** Decisions, oldest first (bounded by maxEntries). */
  readonly entries: ProxyLogEntry[]
  /** Hosts denied by policy, most denied first. */
  deniedHosts(): DeniedHost[]
  /** Denials of hosts beyond maxDeniedHosts distinct ones. */
  readonly deniedHostsOmitted: number
  /** Stops listening, ends every open connection and tunnel, removes the socket file. */
  close(): Promise<void>
}

type Decision =
  | { allowed: true; addresses: string[] }
  | { allowed: false; status: number; reason: string; address?: string; policy: boolean }

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Answered by this proxy's own HTTP server; forwarding it would make upstream send a second 100.
  'expect'
])

export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const {
    socketPath,
    allowList,
    resolve = defaultResolve,
    connect = netConnect,
    log,
    logEnd,
    connectTimeoutMs = 10_000,
    resolveTimeoutMs = 10_000,
    idleTimeoutMs = 300_000,
    maxEntries = 10_000,
    maxDeniedHosts = 500
  } = options
  // The same list with ports dropped, to tell "host not listed" from "port not listed".
  const anyPortList: AllowList = {
    entries: allowList.entries.map(entry => ({ ...entry, port: undefined }))
  }
  const entries: ProxyLogEntry[] = []
  const denied = new Map<string, DeniedHost>()
  let deniedHostsOmitted = 0
  const openSockets = new Set<Duplex>()
  let closed = false

  function track(socket: Duplex): void {
    openSockets.add(socket)
    socket.once('close', () => openSockets.delete(socket))
  }

  function record(entry: ProxyLogEntry, policyDenial: boolean): void {
    entries.push(entry)
    // Dropped a tenth at a time, so a flood of requests does not shift the array on every one.
    if (entries.length > maxEntries) entries.splice(0, Math.ceil(maxEntries / 10))
    if (policyDenial) {
      const known = denied.get(entry.host)
      if (known) known.count++
      else if (denied.size < maxDeniedHosts) {
        denied.set(entry.host, { host: entry.host, count: 1, reason: entry.reason ?? 'denied' })
      } else deniedHostsOmitted++
    }
    log?.(entry)
  }

  function newEntry(method: ProxyLogEntry['method'], host: string, port: number): ProxyLogEntry {
    // The host is client-chosen text when the request was malformed: keep log lines short.
    return {
      time: new Date().toISOString(),
      method,
      host: host.slice(0, 255),
      port,
      allowed: false
    }
  }

  /** Fills in the decision and records it (counting policy denials per host). */
  function recordDecision(entry: ProxyLogEntry, decision: Decision): void {
    entry.allowed = decision.allowed
    if (decision.allowed) {
      record(entry, false)
      return
    }
    entry.reason = decision.reason
    if (decision.address !== undefined) entry.address = decision.address
    record(entry, decision.policy)
  }

  async function decide(host: string, port: number): Promise<Decision> {
    const literal = normalizeIpLiteral(host)
    if (literal !== undefined) {
      if (isAddressAllowedByIp(allowList, literal, port))
        return { allowed: true, addresses: [literal] }
      return denial(403, notListedReason(literal, port), true)
    }
    const name = normalizeHostName(host)
    if (name === undefined) return denial(400, 'invalid host name', false)
    if (!isHostAllowed(allowList, name, port)) return denial(403, notListedReason(name, port), true)

    let resolved: string[]
    try {
      resolved = await withTimeout(resolve(name), resolveTimeoutMs, 'name resolution timed out')
    } catch (error: unknown) {
      return denial(502, `cannot resolve host: ${describe(error)}`, false)
    }
    const addresses = resolved.map(address => normalizeIpLiteral(address))
    if (addresses.length === 0) return denial(502, 'cannot resolve host: no addresses', false)
    for (const address of addresses) {
      if (address === undefined) return denial(502, 'resolver returned a non-address', false)
      if (!isPublicAddress(address) && !isAddressAllowedByIp(allowList, address, port)) {
        return {
          allowed: false,
          status: 403,
          reason: 'host resolves to a private address',
          policy: true,
          address
        }
      }
    }
    return { allowed: true, addresses: addresses as string[] }
  }

  function notListedReason(host: string, port: number): string {
    return isHostAllowed(anyPortList, host)
      ? `port ${port} not in allowed-domains for this host`
      : 'host not in allowed-domains'
  }

  /** Tries the checked addresses in order within one connect deadline; never resolves again. */
  function connectChecked(addresses: string[], port: number): Promise<Socket> {
    const deadline = Date.now() + connectTimeoutMs
    return new Promise((resolvePromise, reject) => {
      const attempt = (index: number, lastError?: Error): void => {
        const address = addresses[index]
        const remaining = deadline - Date.now()
        if (address === undefined || remaining <= 0 || closed) {
          reject(lastError ?? new Error(closed ? 'proxy closing' : 'connect timed out'))
          return
        }
        let socket: Socket
        try {
          socket = connect({ host: address, port, noDelay: true })
        } catch (error: unknown) {
          attempt(index + 1, error instanceof Error ? error : new Error(String(error)))
          return
        }
        track(socket)
        const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), remaining)
        const onError = (error: Error): void => {
          clearTimeout(timer)
          socket.destroy()
          attempt(index + 1, error)
        }
        socket.once('error', onError)
        socket.once('connect', () => {
          clearTimeout(timer)
          socket.removeListener('error', onError)
          // Until the tunnel or request takes it over, an error just closes it.
          socket.on('error', () => socket.destroy())
          resolvePromise(socket)
        })
      }
      attempt(0)
    })
  }

  async function handleConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const target = parseAuthority(req.url ?? '')
    if (target === undefined) {
      const entry = newEntry('CONNECT', req.url ?? '', 0)
      recordDecision(entry, denial(400, 'CONNECT needs host:port', false))
      return rejectRaw(client, 400, 'CONNECT needs host:port')
    }
    const entry = newEntry('CONNECT', displayHost(target.host), target.port)
    const decision = await decide(target.host, target.port)
    recordDecision(entry, decision)
    if (!decision.allowed) return rejectRaw(client, decision.status, denialBody(decision, entry))
    if (closed || client.destroyed) return

    const started = Date.now()
    let upstream: Socket
    try {
      upstream = await connectChecked(decision.addresses, target.port)
    } catch (error: unknown) {
      entry.error = describe(error)
      finish(entry, started, 0, 0)
      const status = /timed out/.test(entry.error) ? 504 : 502
      return rejectRaw(client, status, `cannot connect to ${entry.host}:${entry.port}`)
    }
    entry.address = upstream.remoteAddress ?? decision.addresses[0]
    if (client.destroyed) {
      upstream.destroy()
      finish(entry, started, 0, 0)
      return
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    if (head.length > 0) upstream.write(head)
    tunnel(client, upstream, entry, started, head.length)
  }

  function tunnel(
    client: Socket,
    upstream: Socket,
    entry: ProxyLogEntry,
    started: number,
    headBytes: number
  ): void {
    let bytesIn = 0
    let bytesOut = headBytes
    let lastActivity = Date.now()
    client.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length
      lastActivity = Date.now()
    })
    upstream.on('data', (chunk: Buffer) => {
      bytesIn += chunk.length
      lastActivity = Date.now()
    })
    // pipe() gives backpressure both ways: nothing is buffered beyond the streams' high-water marks.
    client.pipe(upstream)
    upstream.pipe(client)
    const idle = watchIdle(
      () => lastActivity,
      idleTimeoutMs,
      () => {
        entry.error = 'idle timeout'
        client.destroy()
        upstream.destroy()
      }
    )
    let done = false
    const end = (error?: Error): void => {
      if (error && entry.error === undefined) entry.error = describe(error)
      if (done) return
      done = true
      idle.stop()
      client.destroy()
      upstream.destroy()
      finish(entry, started, bytesIn, bytesOut)
    }
    client.once('error', end)
    upstream.once('error', end)
    client.once('close', () => end())
    upstream.once('close', () => end())
  }

  function finish(entry: ProxyLogEntry, started: number, bytesIn: number, bytesOut: number): void {
    entry.bytesIn = bytesIn
    entry.bytesOut = bytesOut
    entry.durationMs = Date.now() - started
    logEnd?.(entry)
  }

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseAbsoluteUrl(req.url ?? '')
    if (typeof target === 'string') {
      const entry = newEntry('HTTP', '', 0)
      recordDecision(entry, denial(400, target, false))
      return reply(res, 400, `claude-sandbox proxy: ${target}`)
    }
    const entry = newEntry('HTTP', displayHost(target.host), target.port)
    const decision = await decide(target.host, target.port)
    recordDecision(entry, decision)
    if (!decision.allowed) return reply(res, decision.status, denialBody(decision, entry))
    if (closed || res.destroyed) return

    const started = Date.now()
    let socket: Socket
    try {
      socket = await connectChecked(decision.addresses, target.port)
    } catch (error: unknown) {
      entry.error = describe(error)
      finish(entry, started, 0, 0)
      const status = /timed out/.test(entry.error) ? 504 : 502
      return reply(
        res,
        status,
        `claude-sandbox proxy: cannot connect to ${entry.host}:${entry.port}`
      )
    }
    entry.address = socket.remoteAddress ?? decision.addresses[0]
    forward(req, res, socket, target.path, target.hostHeader, entry, started)
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    socket: Socket,
    path: string,
    hostHeader: string,
    entry: ProxyLogEntry,
    started: number
  ): void {
    let bytesIn = 0
    let bytesOut = 0
    let lastActivity = Date.now()
    const headers = forwardableHeaders(req.headers)
    // RFC 9112 3.2.2: the request-target's authority replaces any Host header. Keeping a
    // different Host would let a client reach an unlisted virtual host on an allowed host's
    // address (a shared CDN, say) by naming the allowed host in the URL only.
    headers.host = hostHeader
    // The connection was made to the checked address above; the request only rides on it.
    const upstreamReq = httpRequest({
      method: req.method,
      path,
      headers,
      // No agent: with createConnection alone, Node uses exactly this socket (and sends
      // `Connection: close`, so it is never pooled or reused for another host).
      createConnection: () => socket
    })
    const idle = watchIdle(
      () => lastActivity,
      idleTimeoutMs,
      () => {
        entry.error = 'idle timeout'
        upstreamReq.destroy()
        res.destroy()
      }
    )
    let done = false
    const end = (error?: Error): void => {
      if (error && entry.error === undefined) entry.error = describe(error)
      if (done) return
      done = true
      idle.stop()
      socket.destroy()
      finish(entry, started, bytesIn, bytesOut)
    }
    req.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length
      lastActivity = Date.now()
    })
    upstreamReq.on('response', upstreamRes => {
      res.writeHead(
        upstreamRes.statusCode ?? 502,
        upstreamRes.statusMessage,
        forwardableRawHeaders(upstreamRes.rawHeaders)
      )
      upstreamRes.on('data', (chunk: Buffer) => {
        bytesIn += chunk.length
        lastActivity = Date.now()
      })
      upstreamRes.pipe(res)
      upstreamRes.once('error', error => {
        res.destroy()
        end(error)
      })
      upstreamRes.once('end', () => end())
    })
    upstreamReq.once('error', error => {
      if (!res.headersSent) {
        reply(res, 502, `claude-sandbox proxy: upstream error from ${entry.host}:${entry.port}`)
      } else res.destroy()
      end(error)
    })
    res.once('close', () => {
      if (!res.writableFinished) {
        upstreamReq.destroy()
        end(new Error('client closed the connection'))
      }
    })
    req.pipe(upstreamReq)
  }

  const server = createServer({
    requestTimeout: 0,
    headersTimeout: 30_000,
    keepAliveTimeout: 5_000
  })
  server.maxConnections = 1024
  server.timeout = idleTimeoutMs
  server.on('connection', (socket: Socket) => track(socket))
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => client.destroy())
    // The tunnel has its own idle watch; the HTTP server's socket timeout no longer applies.
    client.setTimeout(0)
    client.setNoDelay(true)
    handleConnect(req, client, head).catch((error: unknown) => {
      client.destroy(error instanceof Error ? error : undefined)
    })
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handleRequest(req, res).catch(() => res.destroy())
  })
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy())
    rejectRaw(socket, 501, 'claude-sandbox proxy: protocol upgrades are not supported')
  })
  server.on('clientError', (_error: Error, socket: Duplex) => {
    if (socket.writable) rejectRaw(socket, 400, 'claude-sandbox proxy: malformed request')
    else socket.destroy()
  })

  await removeStaleSocket(socketPath)
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.removeListener('error', reject)
      resolveListen()
    })
  })
  // The agent's uid inside the container need not be ours; the directory is what is private.
  await chmod(socketPath, 0o666)

  let closing: Promise<void> | undefined
  return {
    socketPath,
    entries,
    get deniedHostsOmitted() {
      return deniedHostsOmitted
    },
    deniedHosts(): DeniedHost[] {
      return [...denied.values()]
        .map(host => ({ ...host }))
        .sort((a, b) => b.count - a.count || a.host.localeCompare(b.host))
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true
        const stopped = new Promise<void>(resolveClose => server.close(() => resolveClose()))
        for (const socket of openSockets) socket.destroy()
        await stopped
        await unlink(socketPath).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        })
      })()
      return closing
    }
  }
}

function denial(status: number, reason: string, policy: boolean): Decision {
  return { allowed: false, status, reason, policy }
}

function denialBody(decision: Decision, entry: ProxyLogEntry): string {
  const reason = decision.allowed ? '' : decision.reason
  return `claude-sandbox proxy: ${reason}: ${entry.host}`
}

async function defaultResolve(host: string): Promise<string[]> {
  const answers = await lookup(host, { all: true, verbatim: true })
  return answers.map(answer => answer.address)
}

/** `host:port` or `[v6]:port`, as CONNECT carries it; nothing else (no userinfo, no path). */
function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):([0-9]{1,5})$/.exec(authority)
  if (!match) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] ?? match[2]) as string, port }
}

function parseAbsoluteUrl(
  raw: string
): { host: string; port: number; path: string; hostHeader: string } | string {
  if (raw.startsWith('/') || raw === '*') {
    return 'this is an HTTP proxy; send absolute-form requests (GET http://host/path) or CONNECT'
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'malformed request target'
  }
  if (url.protocol !== 'http:')
    return `only http:// is proxied this way; use CONNECT for ${url.protocol}`
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (host === '') return 'malformed request target'
  const port = url.port === '' ? 80 : Number(url.port)
  return { host, port, path: `${url.pathname}${url.search}`, hostHeader: url.host }
}

function displayHost(host: string): string {
  return normalizeIpLiteral(host) ?? normalizeHostName(host) ?? host
}

function forwardableHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection)
  const result: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue
    result[name] = value
  }
  return result
}

function forwardableRawHeaders(raw: string[]): string[] {
  const connection = raw.filter(
    (_value, i) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'connection'
  )
  const listed = connectionTokens(connection.join(','))
  const result: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    if (HOP_BY_HOP.has(name) || listed.has(name)) continue
    result.push(raw[i] as string, raw[i + 1] as string)
  }
  return result
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '')
  return new Set(
    text
      .split(',')
      .map(token => token.trim().toLowerCase())
      .filter(Boolean)
  )
}

function reply(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = `${body}\n`
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text)
  })
  res.end(text)
}

/** Answers on a raw socket (CONNECT, upgrade, parse errors) and closes it. */
function rejectRaw(socket: Duplex, status: number, body: string): void {
  const text = `${body.startsWith('claude-sandbox proxy:') ? body : `claude-sandbox proxy: ${body}`}\n`
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text
  )
  // Read and drop whatever the client still sends, so its FIN is seen and the socket closes; a
  // client that never closes is cut off shortly after.
  socket.resume()
  setTimeout(() => socket.destroy(), 5_000).unref()
}

function watchIdle(
  lastActivity: () => number,
  idleMs: number,
  onIdle: () => void
): { stop: () => void } {
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    const quiet = Date.now() - lastActivity()
    if (quiet >= idleMs) onIdle()
    else timer = setTimeout(check, idleMs - quiet).unref()
  }
  timer = setTimeout(check, idleMs).unref()
  return { stop: () => clearTimeout(timer) }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms).unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code
    return code ? `${code}: ${error.message}` : error.message
  }
  return String(error)
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    const stat = await lstat(socketPath)
    if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket`)
    await unlink(socketPath)
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}
