/**
 * The CLI fetched on the runner in one stream (issue 23): the platform package's tarball
 * (`@anthropic-ai/claude-code-linux-<arch>`, only the `claude` binary, see cli-fetch-host.ts)
 * downloaded from the registry the runner's npm is configured for, checked against the
 * registry's sha512 integrity digest, gunzipped and unpacked while it downloads. `npm pack` then
 * `tar -xzf` did the same one after the other: measured here, `npm pack` 6.0-6.3 s (download
 * into npm's cache, its own integrity pass, a copy) and `tar -xzf` 3.2 s of a 175 MB tarball,
 * against 0.8 s for the download alone and 1.3 s for a gunzip in 1 MB chunks (GUNZIP_CHUNK): the
 * gunzip is the floor, and streaming hides the download under it.
 *
 * Nothing of the package runs; the binary is placed only after the digest matched. Whatever this
 * cannot do as npm would (a proxy or an auth token in npm's configuration, a registry that does
 * not answer the version document) comes back as a reason, and the caller uses `npm pack`.
 * Bounded: two documents and at most MAX_REDIRECTS redirects, every request timed out.
 */
import { spawn } from 'node:child_process'
import { createHash, type Hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tls from 'node:tls'
import { createGunzip } from 'node:zlib'
import { cliPlatformPackage, placeUnpackedBinary, scrubbedEnv } from './cli-fetch-host.js'

const MAX_REDIRECTS = 5
/** No byte for this long ends a request. */
const IDLE_TIMEOUT_MS = 60_000
/** The whole fetch, as `npm pack`'s. */
const TOTAL_TIMEOUT_MS = 10 * 60_000

/** What npm's configuration says about where packages come from, as far as this fetch cares. */
export interface NpmSource {
  registry: string
  /** Set when npm would go through a proxy: this fetch then leaves it to npm. */
  proxy?: string
}

/** Reads `npm config get registry https-proxy proxy` output (`key=value` lines). */
export function parseNpmConfig(output: string): NpmSource | undefined {
  const values = new Map<string, string>()
  for (const line of output.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) values.set(line.slice(0, at).trim(), line.slice(at + 1).trim())
  }
  const registry = values.get('registry')
  if (!registry || !/^https?:\/\//.test(registry)) return undefined
  const proxy = [values.get('https-proxy'), values.get('proxy')].find(
    value => value !== undefined && value !== '' && value !== 'null' && value !== 'undefined'
  )
  return { registry: registry.endsWith('/') ? registry : `${registry}/`, proxy }
}

/** Whether the runner has an npm that answers, and what its configuration says. */
export interface RunnerNpm {
  available: boolean
  /** Undefined when npm answered without naming a registry this fetch can use. */
  source?: NpmSource
}

/**
 * Asks the runner's npm for its registry (and whether it would use a proxy): one process, which
 * also tells whether there is an npm at all (`npm pack` is the fallback).
 */
export async function runnerNpm(env: NodeJS.ProcessEnv = process.env): Promise<RunnerNpm> {
  return new Promise(resolve => {
    // In a temporary directory, as `npm pack` runs: no project .npmrc of the checkout applies.
    const child = spawn('npm', ['config', 'get', 'registry', 'https-proxy', 'proxy'], {
      cwd: os.tmpdir(),
      env: scrubbedEnv(env),
      stdio: ['ignore', 'pipe', 'ignore']
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', () => {
      clearTimeout(timer)
      resolve({ available: false })
    })
    child.on('close', code => {
      clearTimeout(timer)
      resolve(code === 0 ? { available: true, source: parseNpmConfig(out) } : { available: false })
    })
  })
}

/** The version document's URL: `<registry>/@scope%2fname/<version>`, as npm encodes it. */
export function versionDocumentUrl(registry: string, spec: string): string {
  const at = spec.lastIndexOf('@')
  const name = spec.slice(0, at).replace('/', '%2f')
  return new URL(`${name}/${encodeURIComponent(spec.slice(at + 1))}`, registry).toString()
}

/** `sha512-<base64>` from a version document's dist, or undefined when there is none. */
export function sha512Integrity(integrity: unknown): string | undefined {
  if (typeof integrity !== 'string') return undefined
  const sha512 = integrity.split(/\s+/).find(part => /^sha512-[A-Za-z0-9+/]+=*$/.test(part))
  return sha512?.slice('sha512-'.length)
}

/** The trust store for the requests: the default one, plus the given bundle when there is one. */
function trustedCas(caFile?: string): string[] | undefined {
  if (!caFile) return undefined
  const extra = [caFile, process.env.NODE_EXTRA_CA_CERTS].flatMap(file => {
    try {
      return file ? [readFileSync(file, 'utf8')] : []
    } catch {
      return []
    }
  })
  return [...tls.rootCertificates, ...extra]
}

/** GETs `url`, following redirects; resolves with the response once its status is 200. */
function get(
  url: string,
  options: { ca?: string[]; signal: AbortSignal; accept: string },
  redirects = 0
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const client = target.protocol === 'http:' ? http : https
    const request = client.get(
      target,
      {
        ca: options.ca,
        signal: options.signal,
        timeout: IDLE_TIMEOUT_MS,
        headers: { accept: options.accept, 'user-agent': 'claude-sandbox-action' }
      },
      response => {
        const status = response.statusCode ?? 0
        const location = response.headers.location
        if (status >= 300 && status < 400 && location) {
          response.resume()
          if (redirects >= MAX_REDIRECTS) {
            reject(new Error(`more than ${MAX_REDIRECTS} redirects`))
            return
          }
          const next = new URL(location, target)
          if (target.protocol === 'https:' && next.protocol !== 'https:') {
            reject(new Error('a redirect from https to http'))
            return
          }
          get(next.toString(), options, redirects + 1).then(resolve, reject)
          return
        }
        if (status !== 200) {
          response.resume()
          reject(new Error(`HTTP ${status}`))
          return
        }
        response.setTimeout(IDLE_TIMEOUT_MS, () =>
          response.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`))
        )
        resolve(response)
      }
    )
    request.on('timeout', () =>
      request.destroy(new Error(`no answer in ${IDLE_TIMEOUT_MS / 1000} s`))
    )
    request.on('error', reject)
  })
}

async function getJson(
  url: string,
  options: { ca?: string[]; signal: AbortSignal }
): Promise<Record<string, unknown>> {
  const response = await get(url, { ...options, accept: 'application/json' })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response) {
    size += (chunk as Buffer).length
    // A version document is a few KB; the whole packument can be megabytes. Bounded either way.
    if (size > 16 * 1024 * 1024) throw new Error('the version document is too large')
    chunks.push(chunk as Buffer)
  }
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object')
  return parsed as Record<string, unknown>
}

/** `tar -x` of one member from stdin into `cwd`; resolves with its exit code and stderr. */
function untarOne(cwd: string, member: string, env: NodeJS.ProcessEnv) {
  const child = spawn('tar', ['-x', '-f', '-', member], {
    cwd,
    env,
    stdio: ['pipe', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000)
  })
  const exited = new Promise<{ code: number; stderr: string }>(resolve => {
    child.on('error', error => resolve({ code: -1, stderr: error.message }))
    child.on('close', code => resolve({ code: code ?? -1, stderr }))
  })
  return { stdin: child.stdin, exited, kill: () => child.kill('SIGKILL') }
}

/**
 * Hands zlib at least this many bytes at a time, and takes as many back. Each zlib call is one
 * round trip to libuv's thread pool: with the socket's 16-64 KB chunks and zlib's 16 KB output
 * chunks, the gunzip of a 175 MB tarball took 2.9-4.0 s here, with 1 MB chunks 1.3-1.8 s (the
 * same bytes; measured on a local copy of the tarball).
 */
const GUNZIP_CHUNK = 1024 * 1024

/** Hashes what passes and passes it on in batches of GUNZIP_CHUNK bytes (the last one shorter). */
function hashedBatches(hash: Hash): Transform {
  let held: Buffer[] = []
  let size = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      held.push(chunk)
      size += chunk.length
      if (size < GUNZIP_CHUNK) {
        done()
        return
      }
      const batch = Buffer.concat(held, size)
      held = []
      size = 0
      done(null, batch)
    },
    flush(done) {
      done(null, size > 0 ? Buffer.concat(held, size) : null)
    }
  })
}

/**
 * tar's standard input, as a sink that outlives it: tar stops reading at the archive's end
 * marker and exits, leaving the tarball's zero padding unread, and a pipeline writing into its
 * closed stdin then failed with "Premature close" before the download's digest was complete.
 * What comes after tar has gone is read and dropped, so the digest always covers every byte.
 */
function untilTarEnds(stdin: Writable): Writable {
  let open = true
  const closed = (): void => {
    open = false
  }
  stdin.on('error', closed)
  stdin.on('close', closed)
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!open || stdin.write(chunk)) {
        done()
        return
      }
      // Full: go on when tar has read it, or when tar is gone.
      const go = (): void => {
        stdin.off('drain', go)
        stdin.off('close', go)
        done()
      }
      stdin.on('drain', go)
      stdin.on('close', go)
    },
    final(done) {
      // tar's exit is awaited by the caller; its end of the pipe only needs closing.
      if (open) stdin.end()
      done()
    }
  })
}

/** Where the platform package's tarball is, and the digest it must have. */
export interface CliTarball {
  /** `@anthropic-ai/claude-code-linux-x64@2.1.330` */
  spec: string
  url: string
  /** The registry's sha512 integrity digest, base64. */
  sha512: string
}

/** What locating the tarball needs: the package, npm's registry, the trust store. */
export interface CliTarballRequest {
  version: string
  arch: string
  source: NpmSource
  caFile?: string
}

/**
 * Reads the version document of the platform package for `arch` from `source.registry`: the
 * tarball's URL and digest, or why this fetch cannot be used (the caller then uses `npm pack`).
 * Never throws.
 */
export async function locateCliTarball(request: CliTarballRequest): Promise<CliTarball | string> {
  const spec = cliPlatformPackage(request.arch, request.version)
  if (!spec) return `no Claude Code package for ${request.arch}`
  const envProxy = [
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'ALL_PROXY',
    'all_proxy'
  ]
    .map(name => process.env[name])
    .find(Boolean)
  if (request.source.proxy || envProxy) return 'npm is configured with a proxy'
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), TOTAL_TIMEOUT_MS)
  try {
    const document = await getJson(versionDocumentUrl(request.source.registry, spec), {
      ca: trustedCas(request.caFile),
      signal: controller.signal
    })
    const dist = document.dist as Record<string, unknown> | undefined
    const expected = sha512Integrity(dist?.integrity)
    const tarball = typeof dist?.tarball === 'string' ? dist.tarball : undefined
    const name = spec.slice(0, spec.lastIndexOf('@'))
    if (document.name !== name || document.version !== request.version || !expected || !tarball)
      return `the registry's document for ${spec} names no sha512-checked tarball`
    if (!/^https?:\/\//.test(tarball)) return `the tarball of ${spec} is not at an http(s) URL`
    return { spec, url: tarball, sha512: expected }
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error)
    return `fetching ${spec} from npm's registry failed (${message})`
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Fetches the binary for `arch` from `source.registry` into `binaryPath` (written beside it and
 * renamed, then marked complete). Returns undefined on success, or why it did not (the caller
 * then uses `npm pack`, which also explains a version that does not exist).
 */
export async function fetchCliStreamed(
  request: CliTarballRequest & { binaryPath: string }
): Promise<string | undefined> {
  const located = await locateCliTarball(request)
  if (typeof located === 'string') return located
  const { spec, url: tarball, sha512: expected } = located
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), TOTAL_TIMEOUT_MS)
  const work = await mkdtemp(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'claude-cli-'))
  const options = { ca: trustedCas(request.caFile), signal: controller.signal }
  try {
    const response = await get(tarball, { ...options, accept: 'application/octet-stream' })
    const hash = createHash('sha512')
    const untar = untarOne(work, 'package/claude', scrubbedEnv(process.env))
    try {
      await pipeline(
        response,
        hashedBatches(hash),
        createGunzip({ chunkSize: GUNZIP_CHUNK }),
        untilTarEnds(untar.stdin)
      )
    } catch (error: unknown) {
      untar.kill()
      await untar.exited
      throw error
    }
    const untarred = await untar.exited
    if (untarred.code !== 0)
      return `tar could not unpack ${spec}: ${untarred.stderr.trim().split('\n').pop() ?? ''}`
    if (hash.digest('base64') !== expected)
      return `the tarball of ${spec} does not match the registry's integrity digest`
    return await placeUnpackedBinary(work, spec, request.binaryPath)
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error)
    return `fetching ${spec} from npm's registry failed (${message})`
  } finally {
    clearTimeout(timer)
    await rm(work, { recursive: true, force: true })
  }
}
