/**
 * Saved sessions as Actions cache entries (the real @actions/cache client). An entry is one
 * directory, always at the same path (the client folds the path into the entry's version, so
 * save and restore must agree): `$RUNNER_TEMP/claude-sandbox-session`, holding `session.json`
 * and `transcript/<project dir>/<session id>.jsonl` (and its directory). The runner empties
 * RUNNER_TEMP after the job; the directory is removed here as soon as it is used anyway.
 *
 * Never throws: a miss, an unavailable service or a failure is a warning and a fresh start.
 */
// The client loads on first use (cache-client.ts): a run with nothing to resume or save never parses it.
import * as cache from '../cache-client.js'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { errorMessage } from '../errors.js'

export interface StoreLog {
  info(message: string): void
  warning(message: string): void
}

/** The entry's fixed place on the runner. */
export function sessionEntryDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.RUNNER_TEMP || os.tmpdir(), 'claude-sandbox-session')
}

export function sessionStoreAvailable(): boolean {
  return cache.isFeatureAvailable()
}

/** Restores the newest entry under `prefix` into `dir`; returns its key, or undefined. */
export async function restoreSessionEntry(
  dir: string,
  prefix: string,
  log: StoreLog
): Promise<string | undefined> {
  await rm(dir, { recursive: true, force: true })
  try {
    // No exact key: the newest entry of the conversation (or session) is wanted.
    return await cache.restoreCache([dir], `${prefix}latest`, [prefix])
  } catch (error: unknown) {
    log.warning(`Could not look up a saved session in the Actions cache: ${errorMessage(error)}`)
    return undefined
  }
}

/** Stores `dir` under each key; returns the keys stored. */
export async function saveSessionEntry(
  dir: string,
  keys: string[],
  log: StoreLog
): Promise<string[]> {
  const stored: string[] = []
  for (const key of keys) {
    try {
      const id = await cache.saveCache([dir], key)
      if (id !== -1) stored.push(key)
      else log.warning(`The session was not stored in the Actions cache under ${key}`)
    } catch (error: unknown) {
      log.warning(`Could not store the session in the Actions cache: ${errorMessage(error)}`)
    }
  }
  return stored
}

export async function removeSessionEntry(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined)
}
