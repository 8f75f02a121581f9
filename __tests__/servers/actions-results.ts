/**
 * What the local Actions cache and artifact services share, as GitHub's own "results" service
 * does: Twirp JSON methods at ACTIONS_RESULTS_URL behind the runtime token, and signed blob URLs
 * with Azure block-blob semantics (a single `PUT` with `x-ms-blob-type: BlockBlob`, or
 * `PUT ?comp=block&blockid=…` then `PUT ?comp=blocklist`; every upload answer is 201) and plain
 * or ranged GET downloads. Blobs live on disk: image tarballs are hundreds of megabytes.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, stat, unlink } from 'node:fs/promises'
import type http from 'node:http'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'

export type Json = Record<string, unknown>

/** One request as a stand-in saw it: a Twirp method, or `blob:put|block|blocklist|get|head`. */
export interface ServiceRequest {
  method: string
  operation: string
  body?: unknown
  status: number
}

export class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
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

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export function invalid(message: string): TwirpError {
  return new TwirpError(400, 'invalid_argument', message)
}

/** Rejects fields the client never sends, and checks the types of those it does. */
export function checkFields(
  body: Json,
  allowed: Record<string, (value: unknown) => boolean>
): void {
  for (const [name, value] of Object.entries(body)) {
    const check = allowed[name]
    if (!check) throw invalid(`unknown field ${name}`)
    if (!check(value)) throw invalid(`bad value for ${name}: ${JSON.stringify(value)}`)
  }
}

export const isString = (value: unknown): boolean => typeof value === 'string'
export const isInt64String = (value: unknown): boolean =>
  typeof value === 'string' && /^[0-9]+$/.test(value)
export const isStringArray = (value: unknown): boolean =>
  Array.isArray(value) && value.every(item => typeof item === 'string')
export const isObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

export interface TwirpService {
  /** `/twirp/<package>.<Service>/` */
  prefix: string
  /** Bearer tokens accepted (one per job the service issued one to). */
  tokens: () => readonly string[]
  requests: ServiceRequest[]
  /** Checked per request, so a test can switch a running service to failing. */
  failWith500: () => boolean
  methods: Record<string, (body: Json) => Json | Promise<Json>>
}

/**
 * Serves one Twirp method call: POST, the bearer token, a JSON object body; the answer is always
 * JSON, since the clients retry a body they cannot parse for half a minute.
 */
export async function handleTwirp(
  service: TwirpService,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  method: string
): Promise<void> {
  const log: ServiceRequest = { method: req.method ?? '', operation: method, status: 200 }
  service.requests.push(log)
  try {
    if (req.method !== 'POST') throw new TwirpError(405, 'bad_route', 'POST only')
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (bearer === undefined || !service.tokens().includes(bearer)) {
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
    if (service.failWith500()) throw new TwirpError(500, 'internal', 'simulated failure')
    const handler = service.methods[method]
    if (!handler) throw new TwirpError(404, 'bad_route', `no method ${method}`)
    sendJson(res, 200, await handler(body as Json))
  } catch (error: unknown) {
    const twirp =
      error instanceof TwirpError ? error : new TwirpError(500, 'internal', String(error))
    log.status = twirp.status
    sendJson(res, twirp.status, { code: twirp.code, msg: twirp.message })
  }
}

/** What the blob store needs to know about a blob: that it exists, and whether it is sealed. */
export interface BlobState {
  /** Sealed blobs are read-only and downloadable; open ones take uploads. */
  finalized: boolean
}

export interface BlobStore {
  /** A signed URL for the blob: `r` to read, `cw` to upload. */
  signedUrl(blobName: string, permission: 'r' | 'cw'): string
  blobPath(blobName: string): string
  /** Bytes stored for the blob, or -1 when nothing was uploaded. */
  size(blobName: string): Promise<number>
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>
}

/**
 * Azure block-blob storage behind signed URLs at `<base>/<account>/<container>/<blob>` (the
 * Azure SDK takes the account from the first path segment of an IP-style URL).
 */
export function createBlobStore(options: {
  dir: string
  account: string
  container: string
  baseUrl: () => string
  requests: ServiceRequest[]
  failWith500: () => boolean
  lookup: (blobName: string) => BlobState | undefined
}): BlobStore {
  const signature = randomBytes(12).toString('hex')
  const blobPath = (blobName: string): string => path.join(options.dir, blobName)
  const blockPath = (blobName: string, blockId: string): string =>
    path.join(options.dir, `${blobName}.block-${Buffer.from(blockId, 'utf8').toString('hex')}`)

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

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', options.baseUrl())
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
    const log: ServiceRequest = { method: req.method ?? '', operation, status: 201 }
    options.requests.push(log)
    const fail = (status: number, code: string): void => {
      log.status = status
      req.resume()
      sendAzureError(res, status, code)
    }
    if (options.failWith500()) return fail(500, 'InternalError')
    if (parts.length < 3 || parts[0] !== options.account || parts[1] !== options.container) {
      return fail(404, 'ContainerNotFound')
    }
    if (url.searchParams.get('sig') !== signature) return fail(403, 'AuthenticationFailed')
    const blobName = parts.slice(2).join('/')
    const blob = options.lookup(blobName)
    if (!blob) return fail(404, 'BlobNotFound')
    const canWrite = url.searchParams.get('sp') === 'cw' && !blob.finalized

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
      if (!blob.finalized) return fail(404, 'BlobNotFound')
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

  return {
    signedUrl: (blobName, permission) =>
      `${options.baseUrl()}${options.account}/${options.container}/${blobName}?sv=2025-01-05&sp=${permission}&sr=b&sig=${signature}`,
    blobPath,
    size: blobName =>
      stat(blobPath(blobName)).then(
        stats => stats.size,
        () => -1
      ),
    handle
  }
}

/** Routes Twirp calls to `twirp`, everything else to the blob store; errors answered as JSON. */
export function routeResultsRequest(
  twirp: TwirpService,
  blobs: BlobStore
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/'
    const handled = pathname.startsWith(twirp.prefix)
      ? handleTwirp(twirp, req, res, pathname.slice(twirp.prefix.length))
      : blobs.handle(req, res)
    handled.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: 'internal', msg: String(error) })
      else res.destroy()
    })
  }
}
