/**
 * The credential gateway: an HTTP server on a Unix socket, in the action's own process, through
 * which the sandboxed CLI reaches the Anthropic API. The container only ever holds a placeholder
 * key; the gateway strips whatever credentials a request carries, adds the real ones, and forwards
 * to `anthropic-base-url`. It forwards only the API paths the CLI needs, streams both ways without
 * buffering (the Messages API answers with server-sent events), and records every request.
 *
 * The allow-list was found by running the real CLI (2.1.330, `claude -p ... --output-format
 * stream-json --verbose --dangerously-skip-permissions`) against a logging fake of the API,
 * with an API key and with an OAuth token, through tool turns (Write, Bash, WebFetch, WebSearch)
 * and API errors (401, 500, 529):
 * - with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (the agent image's default), the only
 *   requests to ANTHROPIC_BASE_URL are `POST /v1/messages?beta=true`: the agent loop, and side
 *   requests such as WebSearch's server-tool call;
 * - without it (and with it, in CLI 2.1.232), the CLI additionally sends one `HEAD /api/hello`
 *   (a connectivity probe, user-agent `Bun/...`, no credentials) at start-up. The gateway
 *   answers it itself with an empty 200 and forwards nothing.
 * - `POST /v1/messages/count_tokens?beta=true` is the CLI's token-counting call (it exists in the
 *   binary; not observed in these runs) and is harmless, so it is allowed.
 * Everything else the binary knows about (files, batches, skills, sessions, organizations, OAuth
 * account endpoints, ...) is refused: with the real key attached, those would let a hijacked agent
 * store data in, or read it from, the account.
 *
 * It is also the API door's guard (security-model.md, "The API door"): each request body is read
 * (bounded) and checked by api-policy.ts before anything is sent, and forwarded re-serialized so
 * the API parses exactly what was checked; each response's usage is read as it streams through
 * (usage-meter.ts) and booked by api-ledger.ts, which owns the run's cost, tokens and turns and
 * enforces `max-budget-usd`. Upstream connections have a connect and an idle timeout.
 */
import { chmod, lstat, unlink } from 'node:fs/promises'
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse
} from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import { rootCertificates, TLSSocket } from 'node:tls'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import { errorMessage } from '../errors.js'
import { ApiLedger, type ApiFigures } from './api-ledger.js'
import { MAX_REQUEST_BYTES, type PolicyOptions } from './api-policy.js'
import { MODEL_PRICES, type PriceTable } from './pricing.js'
import { TunnelingAgent } from '../egress/upstream-proxy.js'
import type { ResponseTap } from './usage-meter.js'
import { anthropicProvider, hasAnthropicCredentials, OAUTH_BETA } from './providers/anthropic.js'
import { CredentialsError, type UpstreamProvider } from './providers/provider.js'

export { OAUTH_BETA }

export interface GatewayCredentials {
  /** Sent as `x-api-key`. */
  apiKey?: string
  /** Sent as `authorization: Bearer ...` with the OAuth beta flag. Used when no apiKey is given. */
  oauthToken?: string
}

export interface GatewayOptions {
  /** Where to listen; the file is replaced if it is a stale socket and removed by close(). */
  socketPath: string
  /** `anthropic-base-url`: http or https, optionally with a path prefix. */
  upstream: string
  /** Anthropic's API with these credentials, when no `provider` is given. */
  credentials?: GatewayCredentials
  /** Who is reached upstream and how requests are authenticated there (providers/). */
  provider?: UpstreamProvider
  /** Called once per request, when its response has ended (or failed). */
  log?: (entry: GatewayLogEntry) => void
  /** An HTTP proxy to reach an https upstream through (the runner's HTTPS_PROXY). */
  upstreamProxy?: string
  /** Extra PEM certificates to trust for the upstream (a TLS-inspecting proxy's CA). */
  upstreamCa?: string
  /** What the request policy lets through besides the CLI's own shape (web search). */
  policy?: PolicyOptions
  /** Prices of the usage (the built-in table, or `model-prices` applied to it). */
  prices?: PriceTable
  /** `max-budget-usd`: once the spend reaches it, every further request is refused. */
  maxBudgetUsd?: number
  /** Called once when the spend reaches `maxBudgetUsd`. */
  onBudgetReached?: (figures: ApiFigures) => void
  /** Called for each refused request (after `log`), e.g. to warn in the job's log. */
  onRefused?: (entry: GatewayLogEntry, reason: string) => void
  /** Give up on an upstream connection not made within this (default 30 s). */
  connectTimeoutMs?: number
  /**
   * Give up on an upstream response that sends nothing for this long (default 10 min, the CLI's
   * own API timeout, so a slow but live answer is never cut first by the gateway).
   */
  idleTimeoutMs?: number
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000

export interface GatewayLogEntry {
  method: string
  /** Path with query, as the client asked for it (never contains credentials). */
  path: string
  /** The status sent to the client; 0 when the response broke off after its headers. */
  status: number
  durationMs: number
  /** False when the request was refused (path, policy or spend cap). */
  allowed: boolean
  /** Why it was refused: the rule, e.g. `field mcp_servers`, `max-budget-usd`. */
  refused?: string
  /** Response body bytes sent to the client. */
  bytes: number
  /** Why the request failed, if it did (upstream unreachable, client gone, ...). */
  error?: string
}

export interface Gateway {
  socketPath: string
  entries: GatewayLogEntry[]
  /** The host's own figures: cost, tokens, turns, refusals, the spend cap. */
  figures(): ApiFigures
  /** Stops listening, ends open (keep-alive and streaming) connections, removes the socket. */
  close(): Promise<void>
}

/** `HEAD` here is the CLI's connectivity probe, which the gateway answers itself. */
const CONNECTIVITY_PROBE = '/api/hello'

/** Hop-by-hop headers (RFC 9110 7.6.1) and ones Node sets itself; never forwarded either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host'
])

/**
 * Request headers that may carry a credential. Besides the well-known ones, any header whose name
 * mentions a key, token, secret, session or auth is dropped, so a key the agent brings of its own
 * never reaches the API whatever header it hides in.
 */
function isCredentialHeader(name: string): boolean {
  if (['authorization', 'proxy-authorization', 'cookie', 'x-api-key'].includes(name)) return true
  return /(^|-)(api-?key|key|token|secret|auth|authorization|session-token|cookie|password)(-|$)/.test(
    name
  )
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const upstream = parseUpstream(options.upstream)
  if (!options.provider && !hasAnthropicCredentials(options.credentials ?? {})) {
    throw new Error('claude-sandbox gateway: no credentials given (an API key or an OAuth token)')
  }
  const provider = options.provider ?? anthropicProvider(options.credentials ?? {})
  const entries: GatewayLogEntry[] = []
  const sockets = new Set<Socket>()
  const upstreamRequests = new Set<ClientRequest>()
  const tlsOptions = options.upstreamCa ? { ca: [...rootCertificates, options.upstreamCa] } : {}
  const agent = !upstream.secure
    ? new HttpAgent({ keepAlive: true })
    : options.upstreamProxy
      ? new TunnelingAgent(options.upstreamProxy, { keepAlive: true, ...tlsOptions })
      : new HttpsAgent({ keepAlive: true, ...tlsOptions })

  const record = (entry: GatewayLogEntry): void => {
    entries.push(entry)
    try {
      options.log?.(entry)
    } catch {
      // A failing logger must not take the API path down with it.
    }
  }

  const policy: PolicyOptions = options.policy ?? { webSearch: false }
  const ledger = new ApiLedger({
    prices: options.prices ?? MODEL_PRICES,
    capUsd: options.maxBudgetUsd,
    onCapReached: options.onBudgetReached
  })
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS

  const server = createServer((req, res) => {
    const started = Date.now()
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const log =
      (allowed: boolean, refused?: string) =>
      (status: number, bytes: number, error?: string): void =>
        record({
          method,
          path,
          status,
          durationMs: Date.now() - started,
          allowed,
          bytes,
          ...(refused ? { refused } : {}),
          ...(error ? { error } : {})
        })
    /** Answers a refusal the way the API answers errors, marked not to be retried. */
    const refuse = (status: number, type: string, rule: string, message: string): void => {
      ledger.refused(rule, message)
      req.resume() // drain the body so the connection stays usable
      const bytes = sendJson(
        res,
        status,
        { type: 'error', error: { type, message } },
        { 'x-should-retry': 'false' }
      )
      log(false, rule)(status, method === 'HEAD' ? 0 : bytes) // a HEAD answer carries no body
      const entry = entries[entries.length - 1]
      if (entry) {
        try {
          options.onRefused?.(entry, message)
        } catch {
          // A failing logger must not take the API path down with it.
        }
      }
    }

    if (method === 'HEAD' && path === CONNECTIVITY_PROBE) {
      // The CLI's connectivity probe (2.1.232 sends it even with non-essential traffic off):
      // answered here, never forwarded, so no credential and no body ever goes with it.
      req.resume()
      res.writeHead(200, { 'content-length': 0 })
      res.end()
      log(true)(200, 0)
      return
    }
    const pathRefusal = provider.checkPath(method, path)
    if (pathRefusal) {
      refuse(pathRefusal.status, pathRefusal.errorType, pathRefusal.rule, pathRefusal.reason)
      return
    }
    /** 402 billing_error: the CLI ends its run on it at once, without retrying (measured). */
    const refuseOverBudget = (): boolean => {
      if (!ledger.capReached) return false
      const spent = ledger.figures().costUsd
      refuse(
        402,
        'billing_error',
        'max-budget-usd',
        `claude-sandbox gateway: max-budget-usd (${options.maxBudgetUsd}) reached: $${spent.toFixed(4)} spent; no further requests are sent`
      )
      return true
    }
    if (refuseOverBudget()) return
    readBody(req, MAX_REQUEST_BYTES).then(
      body => {
        // The cap may have been reached while this body was arriving.
        if (refuseOverBudget()) return
        if (body === undefined) {
          refuse(
            413,
            'request_too_large',
            'body too large',
            `claude-sandbox gateway refused the request: body over ${MAX_REQUEST_BYTES} bytes`
          )
          return
        }
        const verdict = provider.check({ method, path, headers: req.headers, body }, policy)
        if (!verdict.allowed) {
          refuse(verdict.status, verdict.errorType, verdict.rule, verdict.reason)
          return
        }
        ledger.forwarded()
        if (verdict.agentLoop) {
          const session = req.headers['x-claude-code-session-id']
          ledger.session(typeof session === 'string' ? session.slice(0, 100) : undefined)
        }
        forward(req, res, verdict.upstreamPath, verdict.body, log(true), (reading, ok) =>
          ledger.book(reading, { model: verdict.model, agentLoop: verdict.agentLoop, ok })
        )
      },
      (error: unknown) => {
        res.destroy()
        log(false, 'client')(0, 0, `reading the request failed: ${errorMessage(error)}`)
      }
    )
  })

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: string,
    finish: (status: number, bytes: number, error?: string) => void,
    book: (reading: ReturnType<ResponseTap['finish']>, ok: boolean) => void
  ): void {
    const outgoing = {
      method: req.method ?? 'POST',
      secure: upstream.secure,
      hostname: upstream.hostname,
      port: upstream.port,
      path: upstream.prefix + path,
      headers: forwardedRequestHeaders(req.headers),
      body
    }
    // The provider adds the credentials (or signs); a token it holds may be refreshed first.
    provider.authorize(outgoing).then(
      headers => {
        // The CLI gave up while a token was being fetched: send nothing.
        if (res.destroyed) return finish(0, 0, 'client closed the connection')
        send(res, outgoing, headers, finish, book)
      },
      (error: unknown) => {
        const detail = errorMessage(error)
        const problem = `${provider.label}: ${detail}`
        if (error instanceof CredentialsError) ledger.credentialsProblem(problem)
        const bytes = sendJson(
          res,
          401,
          {
            type: 'error',
            error: {
              type: 'authentication_error',
              message: `claude-sandbox gateway: no credentials for ${problem}`
            }
          },
          { 'x-should-retry': 'false' }
        )
        finish(401, bytes, detail)
      }
    )
  }

  function send(
    res: ServerResponse,
    outgoing: { method: string; path: string; body: string },
    headers: OutgoingHttpHeaders,
    finish: (status: number, bytes: number, error?: string) => void,
    book: (reading: ReturnType<ResponseTap['finish']>, ok: boolean) => void
  ): void {
    const body = outgoing.body
    headers['content-length'] = Buffer.byteLength(body)
    // Plain responses, so their usage can be read on the way through.
    headers['accept-encoding'] = 'identity'
    const upstreamReq = (upstream.secure ? httpsRequest : httpRequest)({
      protocol: upstream.secure ? 'https:' : 'http:',
      hostname: upstream.hostname,
      port: upstream.port,
      method: outgoing.method,
      path: outgoing.path,
      headers,
      agent
    })
    upstreamRequests.add(upstreamReq)
    let done = false
    let tap: ResponseTap | undefined
    let status = 0
    const end = (sent: number, bytes: number, error?: string): void => {
      if (done) return
      done = true
      clearTimeout(connectTimer)
      upstreamRequests.delete(upstreamReq)
      if (tap) book(tap.finish(), status >= 200 && status < 300 && error === undefined)
      finish(sent, bytes, error)
    }
    const fail = (error: Error): void => {
      if (done) return
      if (res.headersSent) {
        res.destroy()
        end(0, 0, errorMessage(error))
        return
      }
      const detail = describeNetworkError(error)
      const timedOut = error instanceof UpstreamTimeout
      const sent = timedOut ? 504 : 502
      const bytes = sendJson(res, sent, {
        type: 'error',
        error: {
          type: timedOut ? 'timeout_error' : 'api_error',
          message: `claude-sandbox gateway: cannot reach the upstream API ${upstream.display}: ${detail}`
        }
      })
      end(sent, bytes, detail)
    }

    // The connect timeout covers the TCP (and TLS, and proxy tunnel) set-up; the idle timeout
    // every silence after it, before the headers as much as mid-stream.
    const connectTimer = setTimeout(() => {
      const error = new UpstreamTimeout(
        `no connection within ${Math.round(connectTimeoutMs / 1000)} s`
      )
      // A request still waiting for its socket reports a destroy only once it gets one, which
      // a stuck connection never delivers: answer now.
      upstreamReq.destroy(error)
      fail(error)
    }, connectTimeoutMs)
    upstreamReq.on('socket', socket => {
      socket.setNoDelay(true)
      const connected = (): void => clearTimeout(connectTimer)
      // A new TLS socket is ready after its handshake, a new TCP one once connected; a reused
      // keep-alive socket (or a tunnel the agent made) is ready already.
      if (socket instanceof TLSSocket && !socket.getProtocol())
        socket.once('secureConnect', connected)
      else if (socket.connecting) socket.once('connect', connected)
      else connected()
    })
    upstreamReq.setTimeout(idleTimeoutMs, () =>
      upstreamReq.destroy(
        new UpstreamTimeout(`the upstream sent nothing for ${Math.round(idleTimeoutMs / 1000)} s`)
      )
    )
    upstreamReq.on('response', upstreamRes => {
      clearTimeout(connectTimer)
      status = upstreamRes.statusCode ?? 502
      const responseHeaders = forwardedResponseHeaders(upstreamRes.headers)
      const refusedCredentials = status === 401 || status === 403
      // The provider refused the host's credentials: the CLI retrying will not change that.
      if (refusedCredentials) responseHeaders['x-should-retry'] = 'false'
      res.writeHead(status, responseHeaders)
      res.flushHeaders()
      tap = provider.tapFor(String(upstreamRes.headers['content-type'] ?? ''))
      if (refusedCredentials) {
        let text = ''
        upstreamRes.on('data', (chunk: Buffer) => {
          if (text.length < 4096) text += chunk.toString('utf8')
        })
        upstreamRes.on('end', () =>
          ledger.credentialsProblem(
            `${provider.label} refused the gateway's credentials (${status}${describeUpstreamError(upstreamRes.headers, text)}). ${provider.credentialsRemedy}`
          )
        )
      }
      const feed = tapFeed(tap, String(upstreamRes.headers['content-encoding'] ?? ''))
      let bytes = 0
      upstreamRes.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        feed.write(chunk)
      })
      upstreamRes.pipe(res)
      upstreamRes.on('end', () => feed.end(() => end(status, bytes)))
      upstreamRes.on('error', (error: Error) => {
        res.destroy()
        end(0, bytes, `upstream response broke off: ${error.message}`)
      })
      upstreamRes.on('close', () => {
        if (!upstreamRes.complete) {
          res.destroy()
          end(0, bytes, 'upstream response broke off')
        }
      })
    })
    upstreamReq.on('error', fail)
    // The client went away (the CLI cancelled, timed out or was killed): stop the upstream too.
    res.on('close', () => {
      if (!res.writableFinished) {
        upstreamReq.destroy()
        end(0, 0, 'client closed the connection')
      }
    })
    upstreamReq.end(body)
  }

  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  await removeStaleSocket(options.socketPath)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  // The container's user is not ours (and where the runner is root, ours is root): let any local
  // uid connect. The directory around the socket is what limits who can see it.
  await chmod(options.socketPath, 0o666)

  let closing: Promise<void> | undefined
  return {
    socketPath: options.socketPath,
    entries,
    figures: () => ledger.figures(),
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>(resolve => server.close(() => resolve()))
        for (const upstreamReq of upstreamRequests) upstreamReq.destroy()
        for (const socket of sockets) socket.destroy()
        agent.destroy()
        await stopped
        await unlink(options.socketPath).catch(() => undefined)
      })()
      return closing
    }
  }
}

interface Upstream {
  secure: boolean
  hostname: string
  port: number
  /** Path prefix without a trailing slash ('' for none). */
  prefix: string
  /** Origin and prefix, for messages (no credentials: userinfo is refused). */
  display: string
}

function parseUpstream(value: string): Upstream {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`claude-sandbox gateway: anthropic-base-url is not a URL: ${value}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`claude-sandbox gateway: anthropic-base-url must be http or https: ${value}`)
  }
  if (url.username || url.password) {
    throw new Error('claude-sandbox gateway: anthropic-base-url must not contain credentials')
  }
  const secure = url.protocol === 'https:'
  const prefix = url.pathname.replace(/\/+$/, '')
  return {
    secure,
    // URL keeps IPv6 literals in brackets; the socket API wants them bare.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 443 : 80,
    prefix,
    display: `${url.origin}${prefix}`
  }
}

/** The CLI's headers without its credentials and hop-by-hop headers; the provider adds its own. */
function forwardedRequestHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || isCredentialHeader(name)) continue
    headers[name] = value
  }
  return headers
}

/**
 * The error of a refused upstream request in a few words: Bedrock's `x-amzn-errortype` and
 * `message`, Google's `error.status` and `error.message`, Anthropic's `error.type` and message.
 */
function describeUpstreamError(headers: IncomingHttpHeaders, text: string): string {
  const amazonType = String(headers['x-amzn-errortype'] ?? '').split(':')[0]
  let type = amazonType
  let message = ''
  try {
    const parsed = JSON.parse(text) as {
      message?: unknown
      Message?: unknown
      error?: { type?: unknown; status?: unknown; message?: unknown } | string
      error_description?: unknown
    }
    const error = typeof parsed.error === 'object' ? parsed.error : undefined
    type ||= String(
      error?.type ?? error?.status ?? (typeof parsed.error === 'string' ? parsed.error : '')
    )
    const found = parsed.message ?? parsed.Message ?? error?.message ?? parsed.error_description
    if (typeof found === 'string') message = found
  } catch {
    message = text.slice(0, 200)
  }
  const cut = message.length > 300 ? `${message.slice(0, 300)}…` : message
  return [type && ` ${type}`, cut && `: ${cut}`].join('')
}

function forwardedResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    headers[name] = value
  }
  return headers
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {}
): number {
  const text = JSON.stringify(body)
  const length = Buffer.byteLength(text)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': length,
    ...headers
  })
  res.end(text)
  return length
}

class UpstreamTimeout extends Error {}

/** The request body, or undefined when it is over `limit` bytes (the rest is drained). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes > limit) {
        over = true
        chunks.length = 0
      } else if (!over) chunks.push(chunk)
    })
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/**
 * Where the response's bytes go to be read: the tap itself, or a decompressor in front of it
 * when the upstream compressed anyway. `end` calls back once the tap has everything.
 */
function tapFeed(
  tap: ResponseTap,
  encoding: string
): { write(chunk: Buffer): void; end(done: () => void): void } {
  const make = {
    gzip: createGunzip,
    'x-gzip': createGunzip,
    deflate: createInflate,
    br: createBrotliDecompress
  }[encoding.trim().toLowerCase()]
  if (!make) {
    return {
      write: chunk => tap.push(chunk),
      end: done => done()
    }
  }
  const inflate = make()
  inflate.on('data', (chunk: Buffer) => tap.push(chunk))
  inflate.on('error', () => undefined) // a corrupt body: no usage read, nothing else breaks
  return {
    write: chunk => inflate.write(chunk),
    end: done => {
      inflate.once('end', done).once('error', done)
      inflate.end()
    }
  }
}

/** A one-line cause for a failed upstream connection, e.g. `connection refused (ECONNREFUSED)`. */
function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  const causes: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable'
  }
  if (error instanceof UpstreamTimeout) return error.message
  if (code && causes[code]) return `${causes[code]} (${code})`
  if (code) return `${error.message} (${code})`
  return error.message
}

/** A socket left behind by a crashed run would make listen() fail with EADDRINUSE. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const stats = await lstat(path)
    if (!stats.isSocket()) {
      throw new Error(`claude-sandbox gateway: ${path} exists and is not a socket`)
    }
    await unlink(path)
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}
