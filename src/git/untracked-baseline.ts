import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { splitNulRaw } from './diff-parse.js'
import { createGit } from './git.js'

/**
 * The untracked, not ignored files that were in the working tree before the agent ran: what the
 * job's own earlier steps left there (a virtualenv, a build, a downloaded tool) in a repository
 * that does not ignore them. Without this, createPatch would publish them as the agent's change.
 *
 * A file counts as untouched when its size, modification time and inode are what they were. An
 * agent can set a file's mtime back, so it could hide an edit to such a file from the patch; that
 * only keeps the edit from being published, never publishes anything unseen.
 */
export interface UntrackedBaseline {
  /** Keyed by the path's raw bytes (latin1), as git lists them. */
  entries: Map<string, FileStamp>
  /** True when there were more than MAX_BASELINE_FILES: the rest count as the agent's. */
  truncated: boolean
  /** The working tree's top, which the paths are relative to. */
  toplevel: string
}

interface FileStamp {
  size: number
  mtimeMs: number
  ino: number
}

/** Enough for a virtualenv or a node_modules checked in by mistake, bounded in memory. */
export const MAX_BASELINE_FILES = 200_000
const STAT_CONCURRENCY = 64

export async function snapshotUntracked(workspace: string): Promise<UntrackedBaseline> {
  const entries = new Map<string, FileStamp>()
  const top = await createGit(workspace).tryRun(['rev-parse', '--show-toplevel'])
  const toplevel = top.stdout.toString('utf8').replace(/\n$/, '')
  if (top.exitCode !== 0 || !toplevel) return { entries, truncated: false, toplevel: workspace }
  const git = createGit(toplevel)
  const listed = await git.tryRun(['ls-files', '-z', '--others', '--exclude-standard'])
  if (listed.exitCode !== 0) return { entries, truncated: false, toplevel }
  const names = splitNulRaw(listed.stdout)
  const kept = names.slice(0, MAX_BASELINE_FILES)
  for (let start = 0; start < kept.length; start += STAT_CONCURRENCY) {
    const batch = kept.slice(start, start + STAT_CONCURRENCY)
    const stamps = await Promise.all(batch.map(name => stampOf(toplevel, name)))
    stamps.forEach((stamp, index) => {
      const name = batch[index]
      if (stamp && name) entries.set(name.toString('latin1'), stamp)
    })
  }
  return { entries, truncated: names.length > kept.length, toplevel }
}

/** The baseline's files that are still exactly as they were (raw path bytes). */
export async function untouchedSince(baseline: UntrackedBaseline): Promise<Buffer[]> {
  const names = [...baseline.entries.keys()]
  const untouched: Buffer[] = []
  for (let start = 0; start < names.length; start += STAT_CONCURRENCY) {
    const batch = names.slice(start, start + STAT_CONCURRENCY)
    const stamps = await Promise.all(
      batch.map(name => stampOf(baseline.toplevel, Buffer.from(name, 'latin1')))
    )
    stamps.forEach((stamp, index) => {
      const name = batch[index]
      const before = name === undefined ? undefined : baseline.entries.get(name)
      if (name !== undefined && stamp && before && sameStamp(stamp, before))
        untouched.push(Buffer.from(name, 'latin1'))
    })
  }
  return untouched
}

async function stampOf(workspace: string, name: Buffer): Promise<FileStamp | undefined> {
  const info = await lstat(Buffer.concat([Buffer.from(`${workspace}${path.sep}`), name])).catch(
    () => undefined
  )
  return info ? { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino } : undefined
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino
}
