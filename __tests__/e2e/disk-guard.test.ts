/**
 * Issue 16, the disk guard: a scripted agent fills a small filesystem (a tmpfs the test mounts as
 * the workspace) past `min-free-disk`; the agent is stopped, the error names the disk guard, the
 * floor and the largest files, and the partial patch and transcript are kept. Through dist/, the
 * real CLI in the real container.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { leftoverContainers, makeRepo, runScenario } from '../helpers/e2e.js'

let mountPoint: string
beforeAll(() => {
  mountPoint = mkdtempSync(path.join(os.tmpdir(), 'e2e-disk-guard-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200m,mode=0755', 'tmpfs', mountPoint])
})
afterAll(() => {
  try {
    execFileSync('umount', [mountPoint])
  } catch {
    execFileSync('umount', ['-l', mountPoint])
  }
  rmSync(mountPoint, { recursive: true, force: true })
})

const MiB = 1024 * 1024

describe('the disk guard', () => {
  it('stops an agent that fills the disk, names the guard and the files, keeps the partial work', async () => {
    const repo = makeRepo({}, `${path.relative(os.tmpdir(), mountPoint)}/repo-`)
    // 10 MiB of zeros every quarter second, up to 400 MiB: twice the filesystem.
    const fill = [
      'import os, time',
      "os.makedirs('/workspace/build', exist_ok=True)",
      'for i in range(40):',
      "    open(f'/workspace/build/fill-{i:02}.bin', 'wb').write(bytes(10 << 20))",
      '    time.sleep(0.25)',
      "print('filled')"
    ].join('\n')
    let fillStarted = 0
    const { run, post } = await runScenario(
      [
        {
          tools: [
            { name: 'Write', input: { file_path: '/workspace/fix.txt', content: 'the fix\n' } }
          ]
        },
        {
          tools: [
            { name: 'Write', input: { file_path: '/tmp/fill.py', content: `${fill}\n` } },
            { name: 'Bash', input: { command: 'python3 /tmp/fill.py', timeout: 120000 } }
          ]
        },
        { text: 'never reached: the guard stops the agent first' }
      ],
      {
        repo,
        inputs: { 'min-free-disk': '100m' },
        during: (child, api) => {
          const timer = setInterval(() => {
            if (fillStarted === 0 && api.mainRequests().length >= 2) fillStarted = Date.now()
          }, 100)
          child.on('close', () => clearInterval(timer))
        }
      }
    )
    const afterFill = fillStarted ? (Date.now() - fillStarted) / 1000 : NaN
    const fills = readdirSync(path.join(repo, 'build')).filter(name => name.endsWith('.bin'))
    const disk = statfsSync(mountPoint)
    console.log(
      `disk guard: ${fills.length} files of 10 MiB written before the stop, ${((disk.bavail * disk.bsize) / MiB).toFixed(0)} MiB left free, step ended ${afterFill.toFixed(1)} s after the fill began`
    )

    expect(run.outputs.conclusion).toBe('failure')
    expect(run.errors).toHaveLength(1)
    const error = run.errors[0] ?? ''
    console.log(error)
    expect(error).toMatch(/The disk guard stopped the agent/)
    expect(error).toContain(`the workspace's filesystem (${repo})`)
    expect(error).toMatch(/below `min-free-disk` \(100m, 100\.0 MiB\)/)
    expect(error).toMatch(
      /Largest files written during the run: build\/fill-\d\d\.bin \(10\.0 MiB\)/
    )
    // The agent was stopped before it filled the filesystem; the floor left the room it promised.
    expect(fills.length).toBeGreaterThan(5)
    expect(fills.length).toBeLessThan(20)
    expect(disk.bavail * disk.bsize).toBeGreaterThan(20 * MiB)
    expect(afterFill).toBeLessThan(60)
    // Partial results kept: the patch holds the fix, the transcript the command, the summary is there.
    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).toContain('+the fix')
    expect(patch).toContain('build/fill-00.bin')
    expect(readFileSync(run.outputs['execution-file'] ?? '', 'utf8')).toContain(
      'python3 /tmp/fill.py'
    )
    expect(run.summary).toMatch(/The disk guard stopped the agent/)
    expect(run.stdout).not.toMatch(/^\s+at .*\.js:\d+/m)
    expect(post.exitCode).toBe(0)
    // This run's container is gone (other runs may share the daemon).
    expect(run.state.runId).toBeTruthy()
    expect(leftoverContainers().filter(name => name.includes(run.state.runId ?? '?'))).toEqual([])
  })
})
