/**
 * Benchmark: patch creation and the job summary for a change of 20,000 new files / 200 MB,
 * against the same at 5,000 files / 50 MB, to show both grow linearly with the change.
 *
 *   npx tsx scripts/bench-patch.ts [--files N] [--kb N]
 *
 * Each size runs in a fresh child process (peak RSS is a high-water mark, so sizes must not
 * share one), which makes the patch with createPatch, reads it with readPatchDigest and renders
 * the summary's diff, and reports its wall time and peak RSS. git's own memory is not the
 * action's and is not counted. Exits 1 when the large run's peak RSS is 1 GB or more, or when
 * time or memory grows clearly faster than the change.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { readPatchDigest } from '../src/git/patch-digest.js'
import { createPatch } from '../src/git/patch.js'
import { renderPatchSummary } from '../src/report/comment.js'
import { announceQuick, QUICK, sized } from './bench-mode.js'

const SELF = fileURLToPath(import.meta.url)
const MEMORY_LIMIT_MB = 1024

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

function textFile(seed: number, bytes: number): string {
  const lines: string[] = []
  let size = 0
  for (let n = 0; size < bytes; n++) {
    const line = `${n} ${(seed * 7919 + n * 104729).toString(36)} ${'x'.repeat(60)}`
    lines.push(line)
    size += line.length + 1
  }
  return `${lines.join('\n')}\n`
}

function git(cwd: string, ...args: string[]): void {
  const result = spawnSync(
    'git',
    ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args],
    { cwd, stdio: 'ignore' }
  )
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed`)
}

/** A repository with one commit, and `files` new text files of `kb` KiB beside it. */
async function makeChange(files: number, kb: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-patch-'))
  await writeFile(path.join(dir, 'README.md'), '# bench\n')
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'initial')
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, 'gen', String(Math.floor(i / 500)))
    if (i % 500 === 0) await mkdir(sub, { recursive: true })
    await writeFile(path.join(sub, `file-${i}.txt`), textFile(i, kb * 1024))
  }
  return dir
}

interface Measure {
  files: number
  megabytes: number
  seconds: number
  peakMb: number
  patchMb: number
  summaryKb: number
}

/** The child: one measured run of patch creation and the summary's rendering. */
async function worker(dir: string, files: number, kb: number): Promise<void> {
  const patchPath = path.join(dir, '..', `${path.basename(dir)}.patch`)
  const started = performance.now()
  const patch = await createPatch(dir, patchPath)
  const digest = await readPatchDigest(patch.patchPath)
  const summary = renderPatchSummary(digest)
  const seconds = (performance.now() - started) / 1000
  if (patch.files.length !== files)
    throw new Error(`expected ${files} files, got ${patch.files.length}`)
  const measure: Measure = {
    files,
    megabytes: (files * kb) / 1024,
    seconds,
    peakMb: process.resourceUsage().maxRSS / 1024,
    patchMb: digest.bytes / 1024 / 1024,
    summaryKb: Buffer.byteLength(summary) / 1024
  }
  await rm(patchPath, { force: true })
  process.stdout.write(`${JSON.stringify(measure)}\n`)
}

async function measure(files: number, kb: number): Promise<Measure> {
  const dir = await makeChange(files, kb)
  try {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, SELF, '--worker', dir, String(files), String(kb)],
      { encoding: 'utf8', maxBuffer: 1024 * 1024 }
    )
    if (child.status !== 0) throw new Error(`worker failed: ${child.stderr}`)
    return JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Measure
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function row(m: Measure): string {
  return `${String(m.files).padStart(6)} files ${m.megabytes.toFixed(0).padStart(4)} MiB | ${m.seconds.toFixed(1).padStart(6)} s | peak RSS ${m.peakMb.toFixed(0).padStart(4)} MB | patch ${m.patchMb.toFixed(0)} MB, summary ${m.summaryKb.toFixed(0)} KB`
}

async function main(): Promise<void> {
  if (process.argv[2] === '--worker') {
    await worker(process.argv[3] ?? '', Number(process.argv[4]), Number(process.argv[5]))
    return
  }
  announceQuick('bench-patch')
  const files = option('files', sized(20_000, 400))
  const kb = option('kb', 10)
  const small = await measure(Math.round(files / 4), kb)
  const large = await measure(files, kb)
  const timeRatio = large.seconds / small.seconds
  const memoryRatio = large.peakMb / small.peakMb
  console.log('Patch creation + job summary (createPatch, readPatchDigest, renderPatchSummary)')
  console.log(row(small))
  console.log(row(large))
  console.log(
    `4x the change: ${timeRatio.toFixed(2)}x the time, ${memoryRatio.toFixed(2)}x the peak RSS (linear: at most 4x)`
  )
  // Linear means at most proportional; a little slack for a shared, noisy machine.
  const failures: string[] = []
  if (large.peakMb >= MEMORY_LIMIT_MB) failures.push(`peak RSS ${large.peakMb.toFixed(0)} MB`)
  if (timeRatio > 5) failures.push(`time grew ${timeRatio.toFixed(2)}x`)
  if (memoryRatio > 5) failures.push(`memory grew ${memoryRatio.toFixed(2)}x`)
  if (QUICK) {
    console.log('targets: not judged in quick mode')
  } else if (failures.length > 0) {
    console.log(`FAIL: ${failures.join(', ')}`)
    process.exitCode = 1
  } else {
    console.log('OK')
  }
}

await main()
