import { describe, expect, it, afterAll } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ContainerOutcome } from '../../src/agent/result.js'
import { AgentStop } from '../../src/sandbox/container.js'
import {
  floorBytes,
  largestNewFiles,
  parseDiskFloor,
  readDisk,
  withDiskGuard
} from '../../src/sandbox/disk-guard.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(dir => rmSync(dir, { recursive: true, force: true })))
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'unit-disk-guard-'))
  dirs.push(dir)
  return dir
}

const GiB = 1024 ** 3
const ended: ContainerOutcome = {
  exitCode: 143,
  timedOut: false,
  cancelled: false,
  oomKilled: false,
  stderrTail: ''
}

/** A stand-in for runContainer: ends when its signal is aborted, or after `ms`. */
function fakeRun(ms: number, seen: { reason?: unknown }) {
  return (signal: AbortSignal) =>
    new Promise<ContainerOutcome>(resolve => {
      const timer = setTimeout(() => resolve({ ...ended, exitCode: 0 }), ms)
      signal.addEventListener('abort', () => {
        clearTimeout(timer)
        seen.reason = signal.reason
        resolve(ended)
      })
    })
}

describe('parseDiskFloor', () => {
  it('reads sizes, shares and off', () => {
    expect(parseDiskFloor('')).toEqual({ text: '1g', bytes: GiB })
    expect(parseDiskFloor('750M')).toEqual({ text: '750M', bytes: 750 * 1024 ** 2 })
    expect(parseDiskFloor('10%')).toEqual({ text: '10%', percent: 10 })
    expect(parseDiskFloor('0')).toEqual({ text: '0', bytes: 0 })
    for (const bad of ['lots', '-1g', '1x', '150%']) expect(parseDiskFloor(bad)).toBeUndefined()
    expect(floorBytes({ text: '10%', percent: 10 }, 50 * GiB)).toBe(5 * GiB)
  })

  it('reads the real free space of a directory', async () => {
    const disk = await readDisk(tempDir())
    expect(disk.total).toBeGreaterThan(0)
    expect(disk.free).toBeLessThanOrEqual(disk.total)
  })
})

describe('withDiskGuard', () => {
  it('stops the run with an AgentStop once free space falls below the floor, naming the big files', async () => {
    const workspace = tempDir()
    writeFileSync(path.join(workspace, 'small.txt'), 'x')
    writeFileSync(path.join(workspace, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 1))
    const frees = [5 * GiB, 3 * GiB, 0.5 * GiB]
    const seen: { reason?: unknown } = {}
    const started = Date.now()
    const outcome = await withDiskGuard(
      {
        workspace,
        floor: { text: '1g', bytes: GiB },
        intervalMs: 20,
        read: () => Promise.resolve({ free: frees.shift() ?? 0.5 * GiB, total: 10 * GiB })
      },
      new AbortController().signal,
      fakeRun(10_000, seen)
    )
    expect(Date.now() - started).toBeLessThan(5000)
    expect(seen.reason).toBeInstanceOf(AgentStop)
    expect(outcome.stopReason).toMatch(
      /^The disk guard stopped the agent: the workspace's filesystem \(.*\) had 512\.0 MiB free of 10\.0 GiB, below `min-free-disk` \(1g, 1\.0 GiB\); its partial work is kept\. Largest files written during the run: big\.bin \(3\.0 MiB\), small\.txt \(4\.0 KiB\)\..*lower `min-free-disk` \(0 turns the guard off\)$/
    )
  })

  it('leaves a run alone while there is room, and passes a cancellation through as it is', async () => {
    const seen: { reason?: unknown } = {}
    const roomy = () => Promise.resolve({ free: 9 * GiB, total: 10 * GiB })
    const options = {
      workspace: tempDir(),
      floor: { text: '1g', bytes: GiB },
      intervalMs: 10,
      read: roomy
    }
    const outcome = await withDiskGuard(options, new AbortController().signal, fakeRun(100, seen))
    expect(outcome).toEqual({ ...ended, exitCode: 0 })

    const cancel = new AbortController()
    setTimeout(() => cancel.abort(), 50)
    const cancelled = await withDiskGuard(options, cancel.signal, fakeRun(10_000, seen))
    expect(cancelled.stopReason).toBeUndefined()
    expect(seen.reason).not.toBeInstanceOf(AgentStop)
  })

  it('does nothing with the floor at 0', async () => {
    let reads = 0
    const outcome = await withDiskGuard(
      {
        workspace: tempDir(),
        floor: { text: '0', bytes: 0 },
        intervalMs: 5,
        read: () => {
          reads++
          return Promise.resolve({ free: 0, total: GiB })
        }
      },
      new AbortController().signal,
      fakeRun(50, {})
    )
    expect(outcome.exitCode).toBe(0)
    expect(reads).toBe(0)
  })
})

describe('largestNewFiles', () => {
  it('finds the largest files changed since the start, skipping old ones, .git and symlinks', async () => {
    const root = tempDir()
    mkdirSync(path.join(root, 'build', 'deep'), { recursive: true })
    mkdirSync(path.join(root, '.git'))
    writeFileSync(path.join(root, 'build', 'deep', 'out.bin'), Buffer.alloc(2 * 1024 * 1024, 1))
    writeFileSync(path.join(root, 'build', 'mid.bin'), Buffer.alloc(1024 * 1024, 1))
    writeFileSync(path.join(root, '.git', 'pack'), Buffer.alloc(4 * 1024 * 1024, 1))
    writeFileSync(path.join(root, 'old.bin'), Buffer.alloc(8 * 1024 * 1024, 1))
    utimesSync(path.join(root, 'old.bin'), new Date(2020, 0, 1), new Date(2020, 0, 1))
    symlinkSync('/', path.join(root, 'root-link'))
    const scan = await largestNewFiles(root, Date.now() - 60_000)
    expect(scan.complete).toBe(true)
    expect(scan.files.map(file => file.path)).toEqual([
      path.join('build', 'deep', 'out.bin'),
      path.join('build', 'mid.bin')
    ])
  })

  it('is bounded in entries', async () => {
    const root = tempDir()
    for (let i = 0; i < 50; i++) writeFileSync(path.join(root, `f${i}`), 'x')
    const scan = await largestNewFiles(root, 0, { maxEntries: 10, timeBudgetMs: 5000, top: 3 })
    expect(scan.complete).toBe(false)
    expect(scan.files).toHaveLength(3)
  })
})
