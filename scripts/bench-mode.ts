/**
 * What every `scripts/bench-*.ts` shares about how it runs. `BENCH_QUICK=1` is the quick mode
 * CI runs (__tests__/e2e/bench-quick.test.ts): few iterations, small sizes, the same code paths,
 * figures printed, and no target verdicts (a quick run's figures are too noisy to judge, so a
 * missed target never fails it). Targets are judged only by the full run.
 */

/** Whether this is the quick run. */
export const QUICK = process.env.BENCH_QUICK === '1'

/** `full` in a full run, `quick` in the quick one. */
export function sized<T>(full: T, quick: T): T {
  return QUICK ? quick : full
}

/**
 * A target's verdict for the printed line: `met` or `MISSED` in a full run, a note that it is
 * not judged in the quick one.
 */
export function verdict(met: boolean): string {
  if (QUICK) return 'not judged in quick mode'
  return met ? 'met' : 'MISSED'
}

/** Sets the exit code for a missed target, in a full run only. */
export function failUnless(met: boolean): void {
  if (!QUICK && !met) process.exitCode = 1
}

/** The first line every benchmark prints in quick mode, so a reader knows what the figures are. */
export function announceQuick(name: string): void {
  if (QUICK) console.log(`${name}: quick mode (BENCH_QUICK=1): few iterations, no target verdicts`)
}

/** The median of samples (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
