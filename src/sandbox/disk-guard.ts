import { lstat, opendir, statfs } from 'node:fs/promises'
import path from 'node:path'
import { formatBytes } from '../bounded-lines.js'
import type { ContainerOutcome } from '../agent/result.js'
import { AgentStop } from './container.js'

/**
 * The disk guard: while the agent runs, the free space of the workspace's filesystem is read
 * every second (one statfs call, cheap); below the `min-free-disk` floor the agent is stopped as
 * on timeout, so the runner keeps room for the patch, the transcript and itself, and the run ends
 * with an error naming the floor and the largest files the agent wrote.
 */

/** `min-free-disk` parsed: a size in bytes, or a share of the filesystem's size. 0 is off. */
export type DiskFloor = { text: string; bytes: number } | { text: string; percent: number }

export const DEFAULT_MIN_FREE_DISK = '1g'

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4
}

/** `1g`, `512m`, `1.5g`, `200000000`, `5%`, or `0`; undefined when it is none of these. */
export function parseDiskFloor(input: string): DiskFloor | undefined {
  const text = input.trim() || DEFAULT_MIN_FREE_DISK
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text)
  if (percent) {
    const value = Number(percent[1])
    return value < 100 ? { text, percent: value } : undefined
  }
  const size = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(text)
  if (!size) return undefined
  const unit = UNITS[(size[2] ?? '').toLowerCase()] ?? 1
  return { text, bytes: Math.round(Number(size[1]) * unit) }
}

export function floorBytes(floor: DiskFloor, totalBytes: number): number {
  return 'bytes' in floor ? floor.bytes : Math.round((floor.percent / 100) * totalBytes)
}

export interface DiskReading {
  free: number
  total: number
}

export async function readDisk(dir: string): Promise<DiskReading> {
  const stats = await statfs(dir)
  // bavail: what an unprivileged writer (the agent) can still use; root's reserve does not count.
  return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize }
}

export interface DiskGuardOptions {
  workspace: string
  floor: DiskFloor
  intervalMs?: number
  /** How free space is read (tests give a scripted one). */
  read?: (dir: string) => Promise<DiskReading>
}

interface Trip extends DiskReading {
  floorBytes: number
}

/**
 * Runs `run` with a signal that is aborted when `cancel` is, or, with an AgentStop, when the
 * workspace's free space falls below the floor. On a trip the outcome's stopReason names the
 * guard, the figures, the largest files written during the run and the input.
 */
export async function withDiskGuard(
  options: DiskGuardOptions,
  cancel: AbortSignal,
  run: (signal: AbortSignal) => Promise<ContainerOutcome>
): Promise<ContainerOutcome> {
  const floor = options.floor
  if (floorBytes(floor, Number.MAX_SAFE_INTEGER) === 0) return run(cancel)
  const read = options.read ?? readDisk
  const controller = new AbortController()
  const forward = (): void => controller.abort(cancel.reason)
  if (cancel.aborted) forward()
  else cancel.addEventListener('abort', forward, { once: true })

  // Files changed since a little before the start count as the run's (coarse mtime resolution).
  const since = Date.now() - 2000
  let trip: Trip | undefined
  let reading = false
  const check = async (): Promise<void> => {
    if (reading || trip) return
    reading = true
    try {
      const disk = await read(options.workspace)
      const limit = floorBytes(floor, disk.total)
      if (disk.free < limit) {
        trip = { ...disk, floorBytes: limit }
        controller.abort(new AgentStop(diskGuardMessage(options.workspace, floor, trip, [])))
      }
    } catch {
      // A filesystem that cannot be read is not a reason to stop the agent.
    } finally {
      reading = false
    }
  }
  void check()
  const timer = setInterval(() => void check(), options.intervalMs ?? 1000)
  let outcome: ContainerOutcome
  try {
    outcome = await run(controller.signal)
  } finally {
    clearInterval(timer)
    cancel.removeEventListener('abort', forward)
  }
  if (!trip) return outcome
  const largest = await largestNewFiles(options.workspace, since)
  return { ...outcome, stopReason: diskGuardMessage(options.workspace, floor, trip, largest.files) }
}

export interface NewFile {
  /** Relative to the workspace. */
  path: string
  /** Bytes it takes on disk (a sparse file counts for what it really uses). */
  bytes: number
}

export interface ScanLimits {
  maxEntries: number
  timeBudgetMs: number
  top: number
}

const SCAN_LIMITS: ScanLimits = { maxEntries: 200_000, timeBudgetMs: 5000, top: 5 }

/**
 * The largest files modified since `sinceMs` under `root`, by a bounded walk (entries and time):
 * symlinks are not followed, and `.git` (read-only to the agent) is skipped.
 */
export async function largestNewFiles(
  root: string,
  sinceMs: number,
  limits: ScanLimits = SCAN_LIMITS
): Promise<{ files: NewFile[]; complete: boolean }> {
  const deadline = Date.now() + limits.timeBudgetMs
  const found: NewFile[] = []
  const pending = ['']
  let entries = 0
  while (pending.length > 0) {
    const relative = pending.pop() as string
    let dir
    try {
      dir = await opendir(path.join(root, relative))
    } catch {
      continue
    }
    for await (const entry of dir) {
      // Leaving the loop closes the directory handle.
      if (++entries > limits.maxEntries || Date.now() > deadline)
        return { files: top(found, limits.top), complete: false }
      const child = relative === '' ? entry.name : path.join(relative, entry.name)
      if (entry.isDirectory()) {
        if (!(relative === '' && entry.name === '.git')) pending.push(child)
      } else if (entry.isFile()) {
        try {
          const stats = await lstat(path.join(root, child))
          if (stats.mtimeMs >= sinceMs) found.push({ path: child, bytes: stats.blocks * 512 })
        } catch {
          // Gone meanwhile.
        }
        if (found.length > limits.top * 20) found.splice(0, found.length, ...top(found, limits.top))
      }
    }
  }
  return { files: top(found, limits.top), complete: true }
}

function top(files: NewFile[], count: number): NewFile[] {
  return [...files].sort((a, b) => b.bytes - a.bytes).slice(0, count)
}

export function diskGuardMessage(
  workspace: string,
  floor: DiskFloor,
  trip: Trip,
  largest: NewFile[]
): string {
  const files =
    largest.length > 0
      ? ` Largest files written during the run: ${largest.map(file => `${file.path} (${formatBytes(file.bytes)})`).join(', ')}.`
      : ''
  return (
    `The disk guard stopped the agent: the workspace's filesystem (${workspace}) had ${formatBytes(trip.free)} free of ${formatBytes(trip.total)}, below \`min-free-disk\` (${floor.text}, ${formatBytes(trip.floorBytes)}); its partial work is kept.${files}` +
    ' Keep large build output out of the working tree, free space on the runner, or lower `min-free-disk` (0 turns the guard off)'
  )
}
