import { describe, expect, it } from '@jest/globals'
import { BENCHES, runAll } from '../../scripts/bench-all.js'

describe('npm run bench', () => {
  it('runs every benchmark even after one missed its target, and names those that did', () => {
    const ran: string[] = []
    const failed = runAll(BENCHES, bench => {
      ran.push(bench)
      return bench.endsWith('bench-sandbox.ts')
        ? 1
        : bench.endsWith('bench-proxy.ts')
          ? 'SIGKILL'
          : 0
    })
    expect(ran).toEqual([...BENCHES])
    expect(ran).toContain('scripts/bench-cache.ts')
    expect(failed).toEqual(['bench-sandbox.ts (1)', 'bench-proxy.ts (SIGKILL)'])
  })
})
