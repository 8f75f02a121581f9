/**
 * A local Actions cache service speaking the v2 protocol, for driving the real @actions/cache
 * client: Twirp JSON at ACTIONS_RESULTS_URL (CreateCacheEntry, FinalizeCacheEntryUpload,
 * GetCacheEntryDownloadURL) behind a bearer token, and signed blob URLs with Azure block-blob
 * upload semantics and plain GET downloads (both from actions-results.ts, shared with the
 * artifact service). Request bodies are checked against the fields the client's generated Twirp
 * code sends (snake_case, int64 as a JSON string); anything else is answered with a Twirp
 * `invalid_argument` error, which the client does not retry. Blobs live on disk in a temp
 * directory: image tarballs are hundreds of megabytes.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  checkFields,
  createBlobStore,
  invalid,
  isInt64String,
  isObject,
  isString,
  isStringArray,
  routeResultsRequest,
  type Json,
  type ServiceRequest
} from './actions-results.js'

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

/** Twirp method name, or `blob:put`, `blob:block`, `blob:blocklist`, `blob:get`, `blob:head`. */
export type FakeCacheRequest = ServiceRequest

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

const isVersion = (value: unknown): boolean =>
  typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)

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
  const blobDir = await mkdtemp(path.join(os.tmpdir(), 'fake-actions-cache-'))
  const options: FakeCacheOptions = { ...initialOptions }
  const entries: FakeCacheEntry[] = []
  const requests: FakeCacheRequest[] = []
  let nextId = 1
  let baseUrl = ''

  const blobs = createBlobStore({
    dir: blobDir,
    account: ACCOUNT,
    container: CONTAINER,
    baseUrl: () => baseUrl,
    requests,
    failWith500: () => options.failWith500 === true,
    lookup: blobName => entries.find(entry => entry.blobName === blobName)
  })
  const signedUrl = blobs.signedUrl

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
    const actual = await blobs.size(entry.blobName)
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

  const server = http.createServer(
    routeResultsRequest(
      {
        prefix: TWIRP_PREFIX,
        tokens: () => [token],
        requests,
        failWith500: () => options.failWith500 === true,
        methods: {
          CreateCacheEntry: createCacheEntry,
          FinalizeCacheEntryUpload: finalizeCacheEntryUpload,
          GetCacheEntryDownloadURL: getCacheEntryDownloadUrl
        }
      },
      blobs
    )
  )
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
