import { performance } from 'node:perf_hooks'

/** Milliseconds per phase of this set-up (`base digest`, `image restore`, `image load`, `CLI
 * restore`, `CLI fetch`, `pull`), for the log and scripts/bench-cache.ts. Phases overlap. */
export type SetupPhases = Record<string, number>

export async function timed<T>(
  phases: SetupPhases,
  name: string,
  fn: () => Promise<T>
): Promise<T> {
  const started = performance.now()
  try {
    return await fn()
  } finally {
    phases[name] = performance.now() - started
  }
}
