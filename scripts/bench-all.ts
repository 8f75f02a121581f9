/**
 * `npm run bench`: every benchmark, one after the other, each to its end. A benchmark that misses
 * a target prints MISSED and exits 1; as an `a && b && c` chain that stopped the run there, so a
 * missed start ratio (bench-sandbox, first) hid the set-up figures (bench-cache, later) that the
 * same issue asks to see beside it. Now each runs whatever came before, and the run exits 1 at the
 * end when any did, naming them. `BENCH_QUICK=1` passes through to each (quick mode).
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The benchmarks, in the order they run (the quick-mode test runs each of these). */
export const BENCHES = [
  'scripts/bench-sandbox.ts',
  'scripts/bench-proxy.ts',
  'scripts/bench-gateway.ts',
  'scripts/bench-publish.ts',
  'scripts/bench-cache.ts',
  'scripts/bench-patch.ts',
  'scripts/bench-secret-scan.ts'
] as const

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * Runs each benchmark whatever the ones before it did; returns those that exited non-zero (a
 * missed target, or a failure), with their status.
 */
export function runAll(
  benches: readonly string[],
  run: (bench: string) => number | string | null
): string[] {
  const failed: string[] = []
  for (const bench of benches) {
    const status = run(bench)
    if (status !== 0) failed.push(`${path.basename(bench)} (${status})`)
  }
  return failed
}

function main(): void {
  const failed = runAll(BENCHES, bench => {
    // tsx from the project's binaries, as `npm run` would find it.
    const result = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [bench], {
      cwd: ROOT,
      stdio: 'inherit'
    })
    return result.status ?? result.signal
  })
  if (failed.length > 0) {
    console.log(`\nbench: a target missed or a benchmark failed in ${failed.join(', ')}`)
    process.exitCode = 1
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main()
