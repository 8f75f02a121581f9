/**
 * The image cache against a local Actions cache service (v2 protocol) driven by the real
 * @actions/cache client, with a real Docker daemon and a tiny image made with `docker import`.
 * The client reads its configuration from process.env at call time, so each test sets the
 * variables for its own duration.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import * as cache from '@actions/cache'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { restoreImage, saveImage, type Logger } from '../../src/image/cache.js'
import { startFakeCacheService, type FakeCacheService } from '../servers/fake-cache.js'

const run = promisify(execFile)
const PREFIX = 'claude-sandbox-imgcache-test'
const tag = randomBytes(4).toString('hex')
const imageRef = `${PREFIX}:${tag}`
const keyPrefix = `claude-sandbox-image-test-${tag}`

/** Variables the cache client reads; each test starts from none of them set. */
const CLIENT_ENV = [
  'ACTIONS_RESULTS_URL',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_CACHE_URL',
  'ACTIONS_CACHE_MODE',
  'GITHUB_SERVER_URL',
  'RUNNER_TEMP'
]

let workDir = ''
let tarPath = ''
let originalImageId = ''

interface Recorded extends Logger {
  infos: string[]
  warnings: string[]
}

function recordingLogger(): Recorded {
  const infos: string[] = []
  const warnings: string[] = []
  return { infos, warnings, info: m => void infos.push(m), warning: m => void warnings.push(m) }
}

/**
 * Runs fn with the client's environment set to env, capturing stdout: the cache client reports
 * through @actions/core, whose warnings are `::warning::` lines there.
 */
async function withClientEnv<T>(
  env: Record<string, string>,
  fn: () => Promise<T>
): Promise<{ result: T; stdout: string }> {
  const saved = new Map(CLIENT_ENV.map(name => [name, process.env[name]]))
  for (const name of CLIENT_ENV) delete process.env[name]
  Object.assign(process.env, { RUNNER_TEMP: path.join(workDir, 'runner-temp') }, env)
  const chunks: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    return true
  }) as typeof process.stdout.write
  try {
    const result = await fn()
    return { result, stdout: chunks.join('') }
  } finally {
    process.stdout.write = write
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

async function imageId(ref: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref])
    return stdout.trim()
  } catch {
    return undefined
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`))
  tarPath = path.join(workDir, 'agent-image.tar')
  // A one-file image: enough for docker save/load to round-trip an image ID.
  const rootfs = path.join(workDir, 'rootfs')
  await run('mkdir', ['-p', rootfs])
  await writeFile(path.join(rootfs, 'hello.txt'), `hello ${tag}\n`)
  await run('tar', ['-C', rootfs, '-cf', path.join(workDir, 'rootfs.tar'), '.'])
  await run('docker', ['import', path.join(workDir, 'rootfs.tar'), imageRef])
  originalImageId = (await imageId(imageRef)) ?? ''
  expect(originalImageId).toMatch(/^sha256:[0-9a-f]{64}$/)
}, 60_000)

afterAll(async () => {
  await run('docker', ['rmi', '--force', imageRef]).catch(() => undefined)
  if (originalImageId) {
    await run('docker', ['rmi', '--force', originalImageId]).catch(() => undefined)
  }
  await rm(workDir, { recursive: true, force: true })
})

describe('saveImage and restoreImage against a v2 cache service', () => {
  let service: FakeCacheService
  const key = `${keyPrefix}-round-trip`

  beforeAll(async () => {
    service = await startFakeCacheService()
  })
  afterAll(async () => {
    await service.close()
  })

  it('saves the image; after it is removed, a restore loads the same image without a build', async () => {
    const saveLog = recordingLogger()
    const saved = await withClientEnv(service.env, () =>
      saveImage({ key, imageRef, tarPath, log: saveLog })
    )
    expect(saved.result).toBe(true)
    expect(saveLog.warnings).toEqual([])
    expect(existsSync(tarPath)).toBe(false)
    const entry = service.entries.find(e => e.key === key)
    expect(entry?.finalized).toBe(true)
    expect(entry?.sizeBytes).toBeGreaterThan(0)
    const create = service.requests.find(r => r.operation === 'CreateCacheEntry')
    expect(create?.body).toEqual({ key, version: entry?.version })

    await run('docker', ['rmi', imageRef])
    expect(await imageId(imageRef)).toBeUndefined()
    expect(await imageId(originalImageId)).toBeUndefined()

    const restoreLog = recordingLogger()
    const restored = await withClientEnv(service.env, () =>
      restoreImage({ key, tarPath, log: restoreLog })
    )
    expect(restored.result).toMatchObject({ hit: true, imageId: originalImageId })
    expect(restored.result.durationsMs?.restore).toBeGreaterThan(0)
    expect(restored.result.durationsMs?.load).toBeGreaterThan(0)
    expect(restoreLog.warnings).toEqual([])
    expect(await imageId(imageRef)).toBe(originalImageId)
    expect(existsSync(tarPath)).toBe(false)
    const lookup = service.requests.filter(r => r.operation === 'GetCacheEntryDownloadURL').at(-1)
    // No restore keys: a partial image is no use.
    expect(lookup?.body).toEqual({ key, version: entry?.version })
  }, 120_000)

  it('misses on another key, quietly', async () => {
    const log = recordingLogger()
    const { result, stdout } = await withClientEnv(service.env, () =>
      restoreImage({ key: `${keyPrefix}-other`, tarPath, log })
    )
    expect(result).toEqual({ hit: false })
    expect(log.warnings).toEqual([])
    expect(stdout).not.toContain('::warning::')
    expect(log.infos.join('\n')).toContain('no cached agent image')
  }, 60_000)

  it('warns and returns false when the key is already stored', async () => {
    const log = recordingLogger()
    const { result } = await withClientEnv(service.env, () =>
      saveImage({ key, imageRef, tarPath, log })
    )
    expect(result).toBe(false)
    expect(log.warnings).toHaveLength(1)
    expect(service.entries.filter(e => e.key === key)).toHaveLength(1)
    expect(existsSync(tarPath)).toBe(false)
  }, 60_000)

  it('warns and misses when the cached tarball is not an image docker can load', async () => {
    const brokenKey = `${keyPrefix}-broken`
    await withClientEnv(service.env, async () => {
      await writeFile(tarPath, 'not an image')
      expect(await cache.saveCache([tarPath], brokenKey)).toBeGreaterThan(0)
    })
    await rm(tarPath, { force: true })
    const log = recordingLogger()
    const { result } = await withClientEnv(service.env, () =>
      restoreImage({ key: brokenKey, tarPath, log })
    )
    expect(result).toEqual({ hit: false })
    expect(log.warnings.join('\n')).toContain('could not be loaded')
    expect(existsSync(tarPath)).toBe(false)
  }, 60_000)

  it('carries archives above the single-upload limit (staged blocks and a block list)', async () => {
    const bigPath = path.join(workDir, 'big.bin')
    const bigKey = `${keyPrefix}-big`
    // Random bytes do not compress, so the archive stays above the client's 128 MiB single PUT.
    const content = randomBytes(136 * 1024 * 1024)
    const digest = createHash('sha256').update(content).digest('hex')
    await writeFile(bigPath, content)
    await withClientEnv(service.env, async () => {
      expect(await cache.saveCache([bigPath], bigKey)).toBeGreaterThan(0)
      await rm(bigPath)
      expect(await cache.restoreCache([bigPath], bigKey)).toBe(bigKey)
    })
    const restored = createHash('sha256')
      .update(await readFile(bigPath))
      .digest('hex')
    expect(restored).toBe(digest)
    const operations = service.requests.map(r => r.operation)
    expect(operations.filter(o => o === 'blob:block').length).toBeGreaterThanOrEqual(3)
    expect(operations).toContain('blob:blocklist')
    await rm(bigPath, { force: true })
  }, 180_000)
})

describe('a cache service that fails is a warning, never a failure', () => {
  it('refused writes (reserved by another job): warning, false', async () => {
    const service = await startFakeCacheService({ refuseWrites: true })
    try {
      const log = recordingLogger()
      const { result } = await withClientEnv(service.env, () =>
        saveImage({ key: `${keyPrefix}-refused`, imageRef, tarPath, log })
      )
      expect(result).toBe(false)
      expect(log.warnings).toHaveLength(1)
      expect(service.entries).toEqual([])
      expect(existsSync(tarPath)).toBe(false)
    } finally {
      await service.close()
    }
  }, 60_000)

  it('a service answering 500s: warnings, a miss and false, within the client retries', async () => {
    const service = await startFakeCacheService({ failWith500: true })
    try {
      const log = recordingLogger()
      const started = Date.now()
      // Restore and save side by side: each spends the client's five attempts (about 30 s).
      const { result, stdout } = await withClientEnv(service.env, () =>
        Promise.all([
          restoreImage({ key: `${keyPrefix}-500`, tarPath: `${tarPath}.r`, log }),
          saveImage({ key: `${keyPrefix}-500`, imageRef, tarPath: `${tarPath}.s`, log })
        ])
      )
      const seconds = (Date.now() - started) / 1000
      expect(result).toEqual([{ hit: false }, false])
      expect(stdout).toMatch(/::warning::Failed to restore: .*500/)
      expect(log.warnings).toHaveLength(1)
      expect(seconds).toBeLessThan(90)
      expect(service.requests.every(r => r.status === 500)).toBe(true)
      expect(service.requests.length).toBe(10)
    } finally {
      await service.close()
    }
  }, 120_000)

  it('a service that is down: warnings, quickly', async () => {
    const service = await startFakeCacheService()
    await service.close()
    const log = recordingLogger()
    const started = Date.now()
    const { result, stdout } = await withClientEnv(service.env, () =>
      Promise.all([
        restoreImage({ key: `${keyPrefix}-down`, tarPath, log }),
        saveImage({ key: `${keyPrefix}-down`, imageRef, tarPath, log })
      ])
    )
    expect(result).toEqual([{ hit: false }, false])
    expect(stdout).toContain('::warning::Failed to restore')
    expect(log.warnings).toHaveLength(1)
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 60_000)

  it('no cache service configured (a local run): one warning, nothing attempted', async () => {
    const log = recordingLogger()
    // A file already at the tarball's place shows that nothing touched it.
    await writeFile(tarPath, 'sentinel')
    const { result } = await withClientEnv({}, async () => [
      await restoreImage({ key: `${keyPrefix}-local`, tarPath, log }),
      await saveImage({ key: `${keyPrefix}-local`, imageRef, tarPath, log })
    ])
    expect(result).toEqual([{ hit: false }, false])
    expect(log.warnings).toEqual([
      'the Actions cache service is not available here (local run); the image is built every run'
    ])
    expect(await readFile(tarPath, 'utf8')).toBe('sentinel')
    await rm(tarPath, { force: true })
  }, 30_000)
})
