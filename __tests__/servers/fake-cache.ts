/**
 * A local Actions cache service speaking the v2 protocol, for driving the real @actions/cache
 * client: Twirp JSON at ACTIONS_RESULTS_URL (CreateCacheEntry, FinalizeCacheEntryUpload,
 * GetCacheEntryDownloadURL) behind a bearer token, and signed blob URLs with Azure block-blob
 * upload semantics and plain GET downloads. Request bodies are checked against the fields the
 * client's generated Twirp code sends (snake_case, int64 as a JSON string); anything else is
 * answered with a Twirp `invalid_argument` error, which the client does not retry. Blobs live on
 * disk in a temp directory: image tarballs are hundreds of megabytes.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, readFile, rm, stat, unlink } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'

export interface FakeCacheOptions {
  /** Answer every request (Twirp and blob) with a 500. */
  failWith500?: boolean
  /** CreateCacheEntry answers `{"ok":false}`, as when another job has reserved the key. */
  refuseWrites?: boolean
}

export interface FakeCacheEntry {
  id: number
  key: string
  version: string
  blobName: string
  finalized: boolean
  sizeBytes?: number
  createdAt: number
}

export interface FakeCacheRequest {
  method: string
  /** Twirp method name, or `blob:put`, `blob:block`, `blob:blocklist`, `blob:get`, `blob:head`. */
  operation: string
  body?: unknown
  status: number
}

export interface FakeCacheService {
  /** The service root, with a trailing slash (the form ACTIONS_RESULTS_URL has on runners). */
  url: string
  /** ACTIONS_RESULTS_URL, ACTIONS_RUNTIME_TOKEN and ACTIONS_CACHE_SERVICE_V2 for the client. */
  env: Record<string, string>
  /** Mutable: change them between calls to simulate a service that starts failing. */
  options: FakeCacheOptions
  entries: FakeCacheEntry[]
  requests: FakeCacheRequest[]
  /** Directory holding the blobs. */
  blobDir: string
  close(): Promise<void>
}

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/'
const ACCOUNT = 'fakeaccount'
const CONTAINER = 'actions-cache'

class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

type Json = Record<string, unknown>

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text)
  })
  res.end(text)
}

function sendAzureError(res: http.ServerResponse, status: number, code: string): void {
  const text = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(text),
    'x-ms-error-code': code
  })
  res.end(text)
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function invalid(message: string): TwirpError {
  return new TwirpError(400, 'invalid_argument', message)
}

/** Rejects fields the client never sends, and checks the types of those it does. */
function checkFields(body: Json, allowed: Record<string, (value: unknown) => boolean>): void {
  for (const [name, value] of Object.entries(body)) {
    const check = allowed[name]
    if (!check) throw invalid(`unknown field ${name}`)
    if (!check(value)) throw invalid(`bad value for ${name}: ${JSON.stringify(value)}`)
  }
}

const isString = (value: unknown): boolean => typeof value === 'string'
const isVersion = (value: unknown): boolean =>
  typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)
const isInt64String = (value: unknown): boolean =>
  typeof value === 'string' && /^[0-9]+$/.test(value)
const isStringArray = (value: unknown): boolean =>
  Array.isArray(value) && value.every(item => typeof item === 'string')
const isObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function requireKeyAndVersion(body: Json): { key: string; version: string } {
  const { key, version } = body
  if (typeof key !== 'string' || key === '') throw invalid('key is required')
  if (key.length > 512 || key.includes(',')) throw invalid('key is malformed')
  if (typeof version !== 'string') throw invalid('version is required')
  return { key, version }
}

/** Starts the service on a loopback port. */
export async function startFakeCacheService(
  initialOptions: FakeCacheOptions = {}
): Promise<FakeCacheService> {
  const token = `fake-runtime-token-${randomBytes(8).toString('hex')}`
  const signature = randomBytes(12).toString('hex')
  const blobDir = await mkdtemp(path.join(os.tmpdir(), 'fake-actions-cache-'))
  const options: FakeCacheOptions = { ...initialOptions }
  const entries: FakeCacheEntry[] = []
  const requests: FakeCacheRequest[] = []
  let nextId = 1
  let baseUrl = ''

  const blobPath = (blobName: string): string => path.join(blobDir, blobName)
  const blockPath = (blobName: string, blockId: string): string =>
    path.join(blobDir, `${blobName}.block-${Buffer.from(blockId, 'utf8').toString('hex')}`)
  const signedUrl = (blobName: string, permission: 'r' | 'cw'): string =>
    `${baseUrl}${ACCOUNT}/${CONTAINER}/${blobName}?sv=2025-01-05&sp=${permission}&sr=b&sig=${signature}`

  function createCacheEntry(body: Json): Json {
    checkFields(body, { key: isString, version: isVersion, metadata: isObject })
    const { key, version } = requireKeyAndVersion(body)
    if (options.refuseWrites) return { ok: false }
    // Entries are immutable: a second reservation of a key and version fails as on GitHub.
    if (entries.some(entry => entry.key === key && entry.version === version)) return { ok: false }
    const id = nextId++
    const blobName = `entry-${id}-${randomBytes(6).toString('hex')}`
    entries.push({ id, key, version, blobName, finalized: false, createdAt: Date.now() })
    return { ok: true, signed_upload_url: signedUrl(blobName, 'cw') }
  }

  async function finalizeCacheEntryUpload(body: Json): Promise<Json> {
    checkFields(body, {
      key: isString,
      version: isVersion,
      size_bytes: isInt64String,
      metadata: isObject
    })
    const { key, version } = requireKeyAndVersion(body)
    const entry = entries.find(e => e.key === key && e.version === version && !e.finalized)
    if (!entry) return { ok: false, message: `no pending cache entry for key ${key}` }
    const sizeBytes = Number(body['size_bytes'] ?? '0')
    const actual = await stat(blobPath(entry.blobName)).then(
      stats => stats.size,
      () => -1
    )
    if (actual !== sizeBytes) {
      return { ok: false, message: `uploaded ${actual} bytes, finalize says ${sizeBytes}` }
    }
    entry.finalized = true
    entry.sizeBytes = sizeBytes
    return { ok: true, entry_id: String(entry.id) }
  }

  function getCacheEntryDownloadUrl(body: Json): Json {
    checkFields(body, {
      key: isString,
      version: isVersion,
      restore_keys: isStringArray,
      metadata: isObject
    })
    const { key, version } = requireKeyAndVersion(body)
    const restoreKeys = (body['restore_keys'] as string[] | undefined) ?? []
    const finalized = entries
      .filter(entry => entry.finalized && entry.version === version)
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
    // The primary key matches exactly; restore keys match by prefix, newest entry first.
    const match =
      finalized.find(entry => entry.key === key) ??
      restoreKeys
        .map(prefix => finalized.find(entry => entry.key.startsWith(prefix)))
        .find(entry => entry !== undefined)
    if (!match) return { ok: false }
    return {
      ok: true,
      signed_download_url: signedUrl(match.blobName, 'r'),
      matched_key: match.key
    }
  }

  async function handleTwirp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string
  ): Promise<void> {
    const log: FakeCacheRequest = { method: req.method ?? '', operation: method, status: 200 }
    requests.push(log)
    try {
      if (req.method !== 'POST') throw new TwirpError(405, 'bad_route', 'POST only')
      if (req.headers.authorization !== `Bearer ${token}`) {
        throw new TwirpError(401, 'unauthenticated', 'missing or wrong bearer token')
      }
      const raw = await readBody(req)
      if (!String(req.headers['content-type']).startsWith('application/json')) {
        throw new TwirpError(415, 'bad_route', 'content-type must be application/json')
      }
      let body: unknown
      try {
        body = JSON.parse(raw.toString('utf8'))
      } catch {
        throw invalid('body is not JSON')
      }
      log.body = body
      if (!isObject(body)) throw invalid('body is not an object')
      if (options.failWith500) throw new TwirpError(500, 'internal', 'simulated failure')
      let answer: Json
      switch (method) {
        case 'CreateCacheEntry':
          answer = createCacheEntry(body as Json)
          break
        case 'FinalizeCacheEntryUpload':
          answer = await finalizeCacheEntryUpload(body as Json)
          break
        case 'GetCacheEntryDownloadURL':
          answer = getCacheEntryDownloadUrl(body as Json)
          break
        default:
          throw new TwirpError(404, 'bad_route', `no method ${method}`)
      }
      sendJson(res, 200, answer)
    } catch (error: unknown) {
      const twirp =
        error instanceof TwirpError ? error : new TwirpError(500, 'internal', String(error))
      log.status = twirp.status
      // Always JSON: the client retries a body it cannot parse for half a minute.
      sendJson(res, twirp.status, { code: twirp.code, msg: twirp.message })
    }
  }

  async function commitBlockList(blobName: string, xml: string): Promise<void> {
    const ids = [...xml.matchAll(/<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g)].map(m =>
      m[2] === undefined ? '' : m[2]
    )
    // Concatenate the staged blocks in the listed order, a chunk at a time (blocks are 64 MiB).
    const out = await open(blobPath(blobName), 'w')
    try {
      const chunk = Buffer.alloc(1 << 20)
      for (const id of ids) {
        const block = await open(blockPath(blobName, id), 'r')
        try {
          for (;;) {
            const { bytesRead } = await block.read(chunk, 0, chunk.length)
            if (bytesRead === 0) break
            await out.write(chunk, 0, bytesRead)
          }
        } finally {
          await block.close()
        }
      }
    } finally {
      await out.close()
    }
    await Promise.all(ids.map(id => unlink(blockPath(blobName, id)).catch(() => undefined)))
  }

  async function handleBlob(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl)
    const parts = url.pathname.split('/').filter(Boolean)
    const comp = url.searchParams.get('comp')
    const operation =
      req.method === 'PUT'
        ? comp === 'block'
          ? 'blob:block'
          : comp === 'blocklist'
            ? 'blob:blocklist'
            : 'blob:put'
        : `blob:${(req.method ?? '').toLowerCase()}`
    const log: FakeCacheRequest = { method: req.method ?? '', operation, status: 201 }
    requests.push(log)
    const fail = (status: number, code: string): void => {
      log.status = status
      req.resume()
      sendAzureError(res, status, code)
    }
    if (options.failWith500) return fail(500, 'InternalError')
    if (parts.length < 3 || parts[0] !== ACCOUNT || parts[1] !== CONTAINER) {
      return fail(404, 'ContainerNotFound')
    }
    if (url.searchParams.get('sig') !== signature) return fail(403, 'AuthenticationFailed')
    const blobName = parts.slice(2).join('/')
    const entry = entries.find(e => e.blobName === blobName)
    if (!entry) return fail(404, 'BlobNotFound')
    const canWrite = url.searchParams.get('sp') === 'cw' && !entry.finalized

    const created = (): void => {
      log.status = 201
      res.writeHead(201, {
        etag: `"0x${randomBytes(8).toString('hex').toUpperCase()}"`,
        'last-modified': new Date().toUTCString(),
        'x-ms-request-id': randomBytes(16).toString('hex'),
        'x-ms-version': '2025-01-05',
        'x-ms-request-server-encrypted': 'true',
        'content-length': '0'
      })
      res.end()
    }

    if (req.method === 'PUT') {
      if (!canWrite) return fail(403, 'AuthorizationPermissionMismatch')
      if (comp === 'block') {
        const blockId = url.searchParams.get('blockid')
        if (!blockId) return fail(400, 'InvalidQueryParameterValue')
        await pipeline(req, createWriteStream(blockPath(blobName, blockId)))
        return created()
      }
      if (comp === 'blocklist') {
        await commitBlockList(blobName, (await readBody(req)).toString('utf8'))
        return created()
      }
      if (comp !== null || req.headers['x-ms-blob-type'] !== 'BlockBlob') {
        return fail(400, 'InvalidHeaderValue')
      }
      await pipeline(req, createWriteStream(blobPath(blobName)))
      return created()
    }

    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!entry.finalized) return fail(404, 'BlobNotFound')
      req.resume()
      const file = blobPath(blobName)
      const size = (await stat(file)).size
      let start = 0
      let end = size - 1
      let status = 200
      const range = /^bytes=(\d+)-(\d*)$/.exec(
        String(req.headers['x-ms-range'] ?? req.headers.range ?? '')
      )
      if (range) {
        start = Number(range[1])
        end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1
        status = 206
      }
      log.status = status
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/octet-stream',
        'content-length': String(Math.max(0, end - start + 1)),
        'accept-ranges': 'bytes',
        'x-ms-blob-type': 'BlockBlob'
      }
      if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`
      res.writeHead(status, headers)
      if (req.method === 'HEAD' || size === 0) return void res.end()
      await pipeline(createReadStream(file, { start, end }), res)
      return
    }
    return fail(405, 'UnsupportedHttpVerb')
  }

  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/'
    const handled = pathname.startsWith(TWIRP_PREFIX)
      ? handleTwirp(req, res, pathname.slice(TWIRP_PREFIX.length))
      : handleBlob(req, res)
    handled.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: 'internal', msg: String(error) })
      else res.destroy()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  baseUrl = `http://127.0.0.1:${port}/`

  return {
    url: baseUrl,
    env: {
      ACTIONS_RESULTS_URL: baseUrl,
      ACTIONS_RUNTIME_TOKEN: token,
      ACTIONS_CACHE_SERVICE_V2: 'true'
    },
    options,
    entries,
    requests,
    blobDir,
    async close(): Promise<void> {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await rm(blobDir, { recursive: true, force: true })
    }
  }
}

/** Reads a stored blob (for tests that compare what was uploaded). */
export async function readFakeBlob(
  service: FakeCacheService,
  entry: FakeCacheEntry
): Promise<Buffer> {
  return readFile(path.join(service.blobDir, entry.blobName))
}
