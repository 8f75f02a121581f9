import * as cache from '../cache-client.js'
import { spawn } from 'node:child_process'
import { rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { imageId } from '../docker.js'
import { errorMessage } from '../errors.js'
import { markComplete } from './cli-binary.js'

/** Where messages go; main.ts passes @actions/core's functions. */
export interface Logger {
  info(msg: string): void
  warning(msg: string): void
  debug?(msg: string): void
}

export interface RestoreImageOptions {
  key: string
  /**
   * Where the tarball is put. Use the same path for save and restore: the cache client folds
   * the path into the entry's version, so another path never matches (see imageTarPath).
   */
  tarPath: string
  log: Logger
  /**
   * Key prefixes tried, newest entry first, when `key` itself has no entry. Only for a whole
   * image of the same inputs (an entry built on an older base, see warm-fallback.ts).
   */
  restoreKeys?: string[]
}

export interface RestoreImageResult {
  hit: boolean
  /** The key of the entry restored (another than `key` when a restore key matched). */
  matchedKey?: string
  /** `sha256:…` of the loaded image, on a hit. */
  imageId?: string
  /** On a hit: time spent restoring the tarball (download, unpack) and in `docker load`. */
  durationsMs?: { restore: number; load: number }
}

export interface SaveImageOptions {
  key: string
  /** The image to save, by tag (kept on load) or by ID. */
  imageRef: string
  tarPath: string
  log: Logger
}

/**
 * The tarball's usual place: the runner's temp directory, which the runner empties after the
 * job, under a fixed name so save and restore agree on the cache entry's version.
 */
export function imageTarPath(): string {
  return path.join(process.env['RUNNER_TEMP'] || os.tmpdir(), 'claude-sandbox-agent-image.tar')
}

/** Deletes the tarball if it is there (the post step's clean-up, and ours). Never throws. */
export async function removeImageTarball(tarPath: string): Promise<void> {
  await rm(tarPath, { force: true }).catch(() => undefined)
}

let warnedUnavailable = false

/**
 * Whether the Actions cache service is configured in this environment; says so once per
 * process when it is not, so a restore and a save do not repeat it.
 */
export function imageCacheAvailable(log: Logger): boolean {
  if (cache.isFeatureAvailable()) return true
  if (!warnedUnavailable) {
    warnedUnavailable = true
    log.warning(
      'the Actions cache service is not available here (local run); the image is built every run'
    )
  }
  return false
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

interface CommandResult {
  stdout: string
  stderr: string
}

/** Runs docker without a shell; rejects with the tail of stderr when it fails. */
function docker(args: string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', reject)
    child.on('close', code => {
      const result = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8')
      }
      if (code === 0) resolve(result)
      else {
        const detail = result.stderr.trim().split('\n').slice(-5).join(' ')
        reject(new Error(`docker ${args[0]} exited with ${code}: ${detail}`))
      }
    })
  })
}

/**
 * The ID of the image `docker load` just loaded. Its output names either the ID (`Loaded image
 * ID: sha256:…`, for a tarball saved by ID) or a reference (`Loaded image: name:tag`), which is
 * then looked up.
 */
async function loadedImageId(loadOutput: string): Promise<string> {
  const byId = /^Loaded image ID: (sha256:[0-9a-f]{64})\s*$/m.exec(loadOutput)
  if (byId?.[1]) return byId[1]
  const byRef = /^Loaded image: (\S+)\s*$/m.exec(loadOutput)
  if (byRef?.[1]) {
    const id = await imageId(byRef[1])
    if (id) return id
  }
  throw new Error(`docker load did not name the image it loaded: ${loadOutput.trim()}`)
}

/** A restored image tarball, not yet loaded (see restoreImageTarball). */
export type RestoredTarball =
  { hit: false } | { hit: true; matchedKey: string; tarPath: string; restoreMs: number }

/**
 * Restores the image tarball saved under `key` (or, when given, the newest under a restore key:
 * every entry is a whole image, never a partial one) to `tarPath`, without loading it: the
 * caller decides whether it is the image it wants (its key) before paying for `docker load`.
 * On a hit the tarball stays until loadImageTarball or removeImageTarball. Never throws: a miss,
 * an unavailable or failing cache service come back as `{ hit: false }`. The cache client
 * reports its own failures (5xx, refused connections) as warnings through @actions/core; it
 * returns a miss for them.
 */
export async function restoreImageTarball(opts: RestoreImageOptions): Promise<RestoredTarball> {
  const { key, tarPath, log, restoreKeys } = opts
  if (!imageCacheAvailable(log)) return { hit: false }
  let matchedKey: string | undefined
  const started = performance.now()
  try {
    matchedKey = await cache.restoreCache([tarPath], key, restoreKeys)
  } catch (error: unknown) {
    // Only a ValidationError (a malformed key) escapes the client.
    log.warning(`could not restore the agent image from the Actions cache: ${errorMessage(error)}`)
    await removeImageTarball(tarPath)
    return { hit: false }
  }
  if (matchedKey === undefined) {
    log.info(`no cached agent image for ${key}`)
    await removeImageTarball(tarPath)
    return { hit: false }
  }
  return { hit: true, matchedKey, tarPath, restoreMs: performance.now() - started }
}

/**
 * `docker load`s a tarball restoreImageTarball left, then removes it. Never throws: a tarball
 * docker cannot load comes back as `{ hit: false }`, so the caller builds.
 */
export async function loadImageTarball(
  restored: { matchedKey: string; tarPath: string; restoreMs: number },
  log: Logger
): Promise<RestoreImageResult> {
  const { matchedKey, tarPath } = restored
  const started = performance.now()
  try {
    const { stdout } = await docker(['load', '--input', tarPath])
    const loadedId = await loadedImageId(stdout)
    const durationsMs = { restore: restored.restoreMs, load: performance.now() - started }
    log.info(
      `agent image restored from the Actions cache in ${seconds(durationsMs.restore)} and ` +
        `loaded in ${seconds(durationsMs.load)} (${loadedId})`
    )
    return { hit: true, matchedKey, imageId: loadedId, durationsMs }
  } catch (error: unknown) {
    log.warning(`the cached agent image could not be loaded, building it: ${errorMessage(error)}`)
    return { hit: false }
  } finally {
    // The tarball is as large as the image; the daemon has its own copy now.
    await removeImageTarball(tarPath)
  }
}

/**
 * Restores the image tarball saved under `key` (or the newest under a restore key) and loads it
 * into the daemon: restoreImageTarball then loadImageTarball. Never throws (see both).
 */
export async function restoreImage(opts: RestoreImageOptions): Promise<RestoreImageResult> {
  const restored = await restoreImageTarball(opts)
  if (!restored.hit) return { hit: false }
  return loadImageTarball(restored, opts.log)
}

/**
 * `docker save`s the image and stores the tarball in the Actions cache under `key`. Call it right
 * after a build, before anything that can fail, so a later failure does not lose the image.
 * Never throws: returns whether the entry was stored, and warns when it was not (service
 * unavailable or failing, entry reserved by another job or already present, docker failure).
 */
export async function saveImage(opts: SaveImageOptions): Promise<boolean> {
  const { key, imageRef, tarPath, log } = opts
  if (!imageCacheAvailable(log)) return false
  try {
    const started = performance.now()
    try {
      await docker(['save', '--output', tarPath, imageRef])
    } catch (error: unknown) {
      log.warning(`could not save the agent image for the Actions cache: ${errorMessage(error)}`)
      return false
    }
    const savedAt = performance.now()
    let cacheId: number
    try {
      // The client compresses the tarball with zstd when it is installed (gzip otherwise);
      // compressing it here first would only make it compress twice.
      cacheId = await cache.saveCache([tarPath], key)
    } catch (error: unknown) {
      log.warning(`could not store the agent image in the Actions cache: ${errorMessage(error)}`)
      return false
    }
    if (cacheId === -1) {
      // The client has already said why (reserved by another job, already stored, 5xx, ...).
      log.warning(
        `the agent image was not stored in the Actions cache under ${key}; the next run builds it again`
      )
      return false
    }
    log.info(
      `agent image stored in the Actions cache under ${key} (docker save ` +
        `${seconds(savedAt - started)}, upload ${seconds(performance.now() - savedAt)})`
    )
    return true
  } finally {
    await removeImageTarball(tarPath)
  }
}

export interface CliCacheOptions {
  key: string
  /** The binary's place in the tool cache: the same path on every run (see cliBinaryPath). */
  binaryPath: string
  log: Logger
}

/**
 * Restores the CLI binary saved under exactly `key` to `binaryPath` and marks it complete.
 * Never throws: a miss, an unavailable service or an entry that did not put the file where it
 * belongs all come back as false, so the caller fetches the CLI.
 */
export async function restoreCliBinary(opts: CliCacheOptions): Promise<boolean> {
  const { key, binaryPath, log } = opts
  if (!imageCacheAvailable(log)) return false
  const started = performance.now()
  try {
    const matched = await cache.restoreCache([binaryPath], key)
    if (matched === undefined) {
      log.info(`no cached Claude Code binary for ${key}; fetching it`)
      return false
    }
    // The client extracts relative to GITHUB_WORKSPACE: check the file landed where it belongs.
    if (!(await stat(binaryPath).catch(() => undefined))?.isFile()) {
      log.warning(`the cached Claude Code binary did not restore to ${binaryPath}; fetching it`)
      return false
    }
    await markComplete(binaryPath)
    log.info(
      `Claude Code binary restored from the Actions cache in ${seconds(performance.now() - started)}`
    )
    return true
  } catch (error: unknown) {
    log.warning(`could not restore the Claude Code binary: ${errorMessage(error)}`)
    return false
  }
}

/** Stores the CLI binary under `key`. Never throws; warns and returns false when not stored. */
export async function saveCliBinary(opts: CliCacheOptions): Promise<boolean> {
  const { key, binaryPath, log } = opts
  if (!imageCacheAvailable(log)) return false
  const started = performance.now()
  try {
    const id = await cache.saveCache([binaryPath], key)
    if (id === -1) {
      log.warning(`the Claude Code binary was not stored in the Actions cache under ${key}`)
      return false
    }
    log.info(
      `Claude Code binary stored in the Actions cache under ${key} in ${seconds(performance.now() - started)}`
    )
    return true
  } catch (error: unknown) {
    log.warning(
      `could not store the Claude Code binary in the Actions cache: ${errorMessage(error)}`
    )
    return false
  }
}
