/**
 * Issue 16: the Docker daemon going away mid-run. The test runs its OWN dockerd (its own socket,
 * data root, exec root and containerd; never the shared daemon), loads the agent image into it,
 * points the action at it with DOCKER_HOST, and stops that daemon while the scripted agent sleeps
 * in a Bash call: once killed outright (SIGKILL: its containers keep running under their shims,
 * out of docker's reach) and once stopped as `systemctl stop docker` does (SIGTERM). Either way
 * the step ends with one clear error, the transcript and the patch kept, nothing left running and
 * no stack trace. Through dist/, the real CLI in the real container.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runScenario } from '../helpers/e2e.js'

let root: string
let host: string
let image: string
let daemonPid = 0

/** `docker` against the test's own daemon. */
function ownDocker(...args: string[]) {
  return spawnSync('docker', ['-H', host, ...args], { encoding: 'utf8' })
}

async function startDaemon(): Promise<void> {
  // A killed dockerd leaves its pid files, and its containerd child, reparented to this machine's
  // init (which does not reap), stays a zombie whose pid dockerd would take for a live containerd.
  // A host's init reaps it; here the stale files are removed, as an operator would.
  rmSync(path.join(root, 'docker.pid'), { force: true })
  rmSync(path.join(root, 'exec', 'containerd', 'containerd.pid'), { force: true })
  const log = openSync(path.join(root, 'dockerd.log'), 'a')
  const child = spawn(
    'dockerd',
    [
      '--host',
      host,
      '--data-root',
      path.join(root, 'data'),
      '--exec-root',
      path.join(root, 'exec'),
      '--pidfile',
      path.join(root, 'docker.pid'),
      '--bridge',
      'none',
      '--iptables=false',
      '--ip6tables=false'
    ],
    { detached: true, stdio: ['ignore', log, log] }
  )
  child.unref()
  daemonPid = child.pid ?? 0
  for (let i = 0; i < 60; i++) {
    if (ownDocker('version', '--format', '{{.Server.Version}}').status === 0) return
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw new Error(
    `the test's dockerd did not start: ${readFileSync(path.join(root, 'dockerd.log'), 'utf8').slice(-2000)}`
  )
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function stopDaemon(signal: NodeJS.Signals): Promise<void> {
  if (daemonPid === 0 || !alive(daemonPid)) return
  process.kill(daemonPid, signal)
  for (let i = 0; i < 100 && alive(daemonPid); i++) await new Promise(r => setTimeout(r, 200))
}

/** Processes whose command line holds `marker` (the agent's sleep), anywhere on the host. */
function processesWith(marker: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return pids
}

beforeAll(async () => {
  // Short: unix socket paths are limited to 108 bytes.
  root = mkdtempSync(path.join(os.tmpdir(), 'dgone-'))
  host = `unix://${path.join(root, 'docker.sock')}`
  // The agent image as the action builds it, on the shared daemon (built once, then found).
  const { run } = await runScenario([{ text: 'ok' }])
  expect(run.outputs.conclusion).toBe('success')
  const tags = execFileSync(
    'docker',
    ['image', 'inspect', '--format', '{{join .RepoTags " "}}', run.outputs['image-id'] ?? ''],
    { encoding: 'utf8' }
  )
  image = tags.trim().split(' ')[0] ?? ''
  expect(image).toMatch(/^claude-sandbox-agent:/)
  await startDaemon()
  // docker save | docker -H own load: nothing is built by the test's daemon.
  execFileSync('sh', ['-c', `docker save "$0" | docker -H "$1" load -q`, image, host], {
    stdio: 'pipe'
  })
}, 600_000)

afterAll(async () => {
  await stopDaemon('SIGTERM')
  await stopDaemon('SIGKILL')
  // A daemon that was killed leaves its containers' mounts (overlay rootfs, netns): undo them
  // before the directory goes, deepest first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map(line => line.split(' ')[4] ?? '')
    .filter(point => root && point.startsWith(root))
    .sort((a, b) => b.length - a.length)
  for (const point of mounts) spawnSync('umount', ['-l', point])
  if (root) rmSync(root, { recursive: true, force: true })
})

/** Writes a file, then sleeps in a Bash call (marked so its processes can be found). */
function partialThenSleep(marker: number) {
  return [
    {
      tools: [
        {
          name: 'Write',
          input: { file_path: '/workspace/partial.txt', content: 'work in progress\n' }
        }
      ]
    },
    {
      tools: [
        {
          name: 'Bash',
          input: {
            command: `python3 -c "import time; time.sleep(${marker})"`,
            description: 'step',
            timeout: 600000
          }
        }
      ]
    },
    { text: 'never reached' }
  ]
}

async function runAndStopDaemon(signal: NodeJS.Signals, marker: number) {
  let stoppedAt = 0
  let sleeping: number[] = []
  const result = await runScenario(partialThenSleep(marker), {
    inputs: { image },
    env: { DOCKER_HOST: host },
    during: (_child, api) => {
      const deadline = Date.now() + 180_000
      const timer = setInterval(() => {
        if (Date.now() > deadline) clearInterval(timer)
        if (api.mainRequests().length < 2) return
        sleeping = processesWith(`time.sleep(${marker})`)
        if (sleeping.length === 0) return
        clearInterval(timer)
        stoppedAt = Date.now()
        void stopDaemon(signal)
      }, 200)
    }
  })
  return { ...result, stoppedAt, sleeping }
}

function expectClearEnd(run: Awaited<ReturnType<typeof runAndStopDaemon>>['run']): void {
  expect(run.outputs.conclusion).toBe('failure')
  expect(run.exitCode).toBe(1)
  expect(run.errors).toHaveLength(1)
  expect(run.errors[0]).toMatch(
    /The Docker daemon went away during the run.*the agent was stopped and its partial work kept.*Check the daemon's health/
  )
  // No stack trace anywhere in what the step printed.
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
  // The transcript so far and the patch of the working tree are kept.
  const transcript = readFileSync(run.outputs['execution-file'] ?? '', 'utf8')
  expect(transcript).toContain('"name":"Write"')
  expect(transcript).toContain('time.sleep(')
  expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('+work in progress')
  expect(run.summary).toMatch(/The Docker daemon went away/)
}

describe('the Docker daemon going away mid-run', () => {
  it('killed outright: one clear error, work kept, the orphaned container killed', async () => {
    const { run, post, stoppedAt, sleeping } = await runAndStopDaemon('SIGKILL', 611)
    expect(sleeping.length).toBeGreaterThan(0)
    expect(Date.now() - stoppedAt).toBeLessThan(60_000)
    console.log(`daemon killed: ${run.errors[0]}`)
    expectClearEnd(run)
    expect(run.errors[0]).toMatch(/left running without a daemon, was killed/)
    // Nothing left running: the agent's sleep (and every other process of its container) is gone.
    expect(processesWith('time.sleep(611)')).toEqual([])
    expect(post.exitCode).toBe(0)
    expect(post.errors).toEqual([])
  })

  it('stopped as systemctl stop does: one clear error, work kept, nothing running', async () => {
    await startDaemon()
    const { run, post, sleeping } = await runAndStopDaemon('SIGTERM', 612)
    expect(sleeping.length).toBeGreaterThan(0)
    console.log(`daemon stopped: ${run.errors[0]}`)
    expectClearEnd(run)
    expect(processesWith('time.sleep(612)')).toEqual([])
    expect(post.exitCode).toBe(0)
    expect(post.errors).toEqual([])
    expect(existsSync(path.join(root, 'docker.sock'))).toBe(false)
  })
})
