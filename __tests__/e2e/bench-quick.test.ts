/**
 * Issue 22, part 4: the benchmarks cannot rot. Every benchmark `npm run bench` runs
 * (scripts/bench-all.ts) is run here in its quick mode (BENCH_QUICK=1: few iterations, small
 * sizes, no target verdicts), as it runs it, and must finish and print its figures. Whatever
 * the list holds is covered, so a new benchmark is tested the day it joins it.
 */
import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../helpers/run-action.js'
import { BENCHES } from '../../scripts/bench-all.js'

/** The benchmarks `npm run bench` runs (scripts/bench-all.ts), each as it runs it. */
const steps = BENCHES.map(bench => `tsx ${bench}`)

/** A figure: a number with a unit or as a ratio, e.g. `1342 ms`, `0.87 ms`, `500 MB/s`, `x 1.8`. */
const FIGURE = /\d+(?:\.\d+)?\s*(?:ms|s|MB\/s|MB|MiB|KB|GB|%)(?![A-Za-z])|=\s*\d+\.\d+/

/**
 * Each step alone gets this long. The quick chain takes about three minutes with the agent image
 * built; bench-sandbox builds it first where it is missing (a fresh machine), which can take
 * several minutes on a loaded two-core runner.
 */
const STEP_TIMEOUT_MS = 10 * 60_000

function runStep(command: string): Promise<{ code: number | null; output: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    // As `npm run` runs it: through a shell, with the project's binaries on the PATH.
    const child = spawn('bash', ['-c', command], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        BENCH_QUICK: '1',
        PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`
      },
      detached: true
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    }, STEP_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code, output, ms: Date.now() - started })
    })
  })
}

describe('npm run bench, quick mode', () => {
  it('is what `npm run bench` runs: every benchmark script, each run with tsx', () => {
    const scripts = (
      JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>
      }
    ).scripts
    expect(scripts.bench).toBe('tsx scripts/bench-all.ts')
    const onDisk = readdirSync(path.join(REPO_ROOT, 'scripts'))
      .filter(
        name => /^bench-[\w-]+\.ts$/.test(name) && !['bench-all.ts', 'bench-mode.ts'].includes(name)
      )
      .map(name => `scripts/${name}`)
      .sort()
    expect([...BENCHES].sort()).toEqual(onDisk)
    expect(steps.length).toBeGreaterThanOrEqual(6)
    for (const step of steps) expect(step).toMatch(/^tsx scripts\/bench-[\w-]+\.ts\b/)
    expect(steps).toContain('tsx scripts/bench-sandbox.ts')
  })

  it.each(steps.map(step => [step]))(
    '%s finishes and prints its figures',
    async step => {
      const { code, output, ms } = await runStep(step)
      // The output is the evidence when it fails: all of it, not a diff's first lines.
      if (code !== 0) throw new Error(`${step} exited with ${code}:\n${output}`)
      expect(output).toMatch(FIGURE)
      // Quick figures are too noisy to judge: no verdicts, so a quick run never fails on them.
      expect(output).not.toMatch(/\bMISSED\b|NOT met/)
      expect(ms).toBeLessThan(STEP_TIMEOUT_MS)
      if (step.startsWith('tsx scripts/bench-sandbox.ts')) {
        // The figure this benchmark exists for.
        expect(output).toMatch(/start ratio: first request \/ plain run = \d+\.\d+/)
      }
    },
    STEP_TIMEOUT_MS + 30_000
  )
})
