/**
 * Issue 16 through dist/: a scripted agent in the real sandbox leaves a 1.2 GB incompressible
 * build output (not ignored) beside a one-line fix. The step ends with the agent's conclusion,
 * the patch holds the fix and stays small, the summary names the big file and its size, and the
 * action process's peak RSS (VmHWM, polled from /proc while it runs) stays under 1 GB.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, rmSync, statSync } from 'node:fs'
import { makeRepo, runScenario } from '../helpers/e2e.js'
import { FakeGitHub, WRITE_ALL } from '../servers/fake-github.js'

const BIG_BYTES = 1200 * 1024 * 1024
const dirs: string[] = []
const TOKEN = 'ghs_e2e_large_files_token'
let fake: FakeGitHub

beforeAll(async () => {
  fake = await FakeGitHub.start()
  fake.addToken(TOKEN, WRITE_ALL)
})
afterAll(async () => {
  await fake.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Polls the process's peak resident set (VmHWM, in KiB) until it exits; the last value seen. */
function watchPeakRss(child: ChildProcess): { peakKiB: () => number } {
  let peak = 0
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0)
      peak = Math.max(peak, kib)
    } catch {
      // The process is gone: the last reading stands.
    }
  }, 100)
  child.on('exit', () => clearInterval(timer))
  return { peakKiB: () => peak }
}

describe('a 1.2 GB build output beside a one-line fix', () => {
  it('is left out of the patch and named in the summary; the fix is kept; peak RSS under 1 GB', async () => {
    const repo = makeRepo()
    dirs.push(repo)
    let watch: { peakKiB: () => number } | undefined
    const { run } = await runScenario(
      [
        {
          tools: [
            {
              name: 'Bash',
              input: {
                command:
                  'cd /workspace && mkdir -p build && head -c 1200M /dev/urandom > build/out.bin && ' +
                  "sed -i 's/return a - b/return a + b/' src/app.py",
                description: 'build and fix',
                timeout: 300000
              }
            }
          ]
        },
        { text: 'Fixed add() and built the project.' }
      ],
      {
        repo,
        inputs: { 'timeout-minutes': '10' },
        during: child => {
          watch = watchPeakRss(child)
        }
      }
    )
    expect(statSync(`${repo}/build/out.bin`).size).toBe(BIG_BYTES)

    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    expect(run.outputs['final-message']).toBe('Fixed add() and built the project.')

    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch.length).toBeLessThan(4096)
    expect(patch).toContain('+    return a + b')
    expect(patch).toContain(`# left-out ${BIG_BYTES} "build/out.bin"`)
    expect(patch).not.toContain('diff --git a/build/out.bin')
    expect(run.outputs['changed-files']).toBe('1')

    expect(run.summary).toContain('**1 file left out of the patch**')
    expect(run.summary).toContain('<code>build/out.bin</code> (1.2 GiB (1,258,291,200 bytes))')
    expect(run.summary).toContain('+    return a + b')
    expect(run.stdout).toMatch(/^::warning::Left out of the patch.*"build\/out\.bin" \(1\.2 GiB/m)

    const peakKiB = watch?.peakKiB() ?? 0
    // A reading was taken at all, and it is well under 1 GB.
    expect(peakKiB).toBeGreaterThan(10 * 1024)
    expect(peakKiB).toBeLessThan(1024 * 1024)
    process.stdout.write(`peak RSS of the action process: ${(peakKiB / 1024).toFixed(0)} MiB\n`)
  })
})

describe('publishing with files left out', () => {
  it('pull-request: the fix is committed, the big file is not, and the step says so', async () => {
    const repo = makeRepo()
    dirs.push(repo)
    const name = 'octo-org/large-files'
    fake.addRepo(name, { defaultBranch: 'main' })
    await fake.seedFromGit(name, repo, { main: 'main' })
    const { run } = await runScenario(
      [
        {
          tools: [
            {
              name: 'Bash',
              input: {
                command:
                  'cd /workspace && mkdir -p dist && head -c 3M /dev/urandom > dist/bundle.bin && ' +
                  "sed -i 's/return a - b/return a + b/' src/app.py",
                description: 'build and fix'
              }
            }
          ]
        },
        { text: 'Fixed add().' }
      ],
      {
        repo,
        inputs: { publish: 'pull-request', 'github-token': TOKEN, 'max-file-size': '1m' },
        env: {
          GITHUB_REPOSITORY: name,
          GITHUB_API_URL: fake.url,
          GITHUB_SERVER_URL: fake.serverUrl
        },
        event: { name: 'schedule', payload: { schedule: '0 3 * * 1' } }
      }
    )
    expect(run.errors).toEqual([])
    expect(run.stdout).toMatch(
      /^::warning::Left out of the patch, and so not published: 1 file\(s\) over max-file-size: "dist\/bundle\.bin" \(3\.0 MiB/m
    )
    const sha = run.outputs['commit-sha'] ?? ''
    const tree = fake.readTree(sha)
    expect(tree.get('src/app.py')?.content?.toString()).toContain('return a + b')
    expect(tree.has('dist/bundle.bin')).toBe(false)
    expect(run.summary).toContain('<code>dist/bundle.bin</code> (3.0 MiB (3,145,728 bytes))')
    expect(fake.validationFailures).toEqual([])
  })
})
