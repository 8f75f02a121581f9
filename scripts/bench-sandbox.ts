/**
 * Issue 3's benchmark, measured in one run on this machine (image present, built beforehand):
 *  (1) the time from the action's start (`node dist/index.js`, through the runner contract) to
 *      the CLI's first request reaching the model API through the gateway — target at most 2 s;
 *  (2) the hardened container's start against a plain `docker run` of the same image and
 *      command (`claude --version`) — target ratio at most 1.1.
 * Prints figures and ratios; medians over several alternating runs, since this machine is noisy.
 */
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { startFakeAnthropic } from '../__tests__/servers/fake-anthropic.js'
import { baseInputs, makeRepo } from '../__tests__/helpers/e2e.js'
import { runAction } from '../__tests__/helpers/run-action.js'
import { dockerRunArgs, type ContainerSpec } from '../src/sandbox/run-args.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 7)

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

function timeCommand(args: string[]): number {
  const started = process.hrtime.bigint()
  const result = spawnSync('docker', args, { encoding: 'utf8' })
  if (result.status !== 0)
    throw new Error(`docker ${args.slice(0, 3).join(' ')} failed: ${result.stderr}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

async function main(): Promise<void> {
  const repo = makeRepo()
  const api = await startFakeAnthropic({ turns: [{ text: 'ok' }] })
  try {
    // Warm-up run: builds the image if it is not there yet (not measured).
    const warm = await runAction({
      inputs: baseInputs({ prompt: 'hi', 'anthropic-base-url': api.url }),
      workspace: repo
    })
    if (warm.outputs.conclusion !== 'success')
      throw new Error(`warm-up run failed: ${warm.errors.join(' ')}`)
    const image = warm.outputs['image-id'] ?? ''

    // (1) action start -> first API request
    const toFirstRequest: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const before = api.requests.length
      const started = Date.now()
      const run = await runAction({
        inputs: baseInputs({ prompt: 'hi', 'anthropic-base-url': api.url }),
        workspace: repo
      })
      const first = api.requests[before]
      if (run.outputs.conclusion !== 'success' || !first)
        throw new Error(`run ${i} failed: ${run.errors.join(' ')}`)
      toFirstRequest.push(first.time - started)
    }

    // (2) hardened vs plain start of the same image and command
    const spec: ContainerSpec = {
      name: 'bench-hardened',
      runId: 'bench',
      image,
      workspace: repo,
      gitPath: `${repo}/.git`,
      socketDir: repo,
      user: { uid: 1000, gid: 1000 },
      home: '/home/agent',
      network: 'restricted',
      proxy: false,
      memory: '4g',
      cpus: '2',
      pidsLimit: 1024,
      userEnv: {},
      command: ['claude', '--version']
    }
    const hardenedArgs = [
      'run',
      '--rm',
      ...dockerRunArgs(spec)
        .slice(1)
        .filter(a => a !== '--interactive')
        // No gateway here: only the start is compared, so the entrypoint must not require one.
        .map(a => (a === 'SANDBOX_REQUIRE_GATEWAY=1' ? 'SANDBOX_REQUIRE_GATEWAY=0' : a))
    ]
    const plainArgs = [
      'run',
      '--rm',
      '-v',
      `${repo}:/workspace`,
      '--tmpfs',
      '/home/agent:uid=1000,gid=1000',
      image,
      'claude',
      '--version'
    ]
    const plain: number[] = []
    const hardened: number[] = []
    for (let i = 0; i < RUNS; i++) {
      plain.push(timeCommand(plainArgs))
      hardenedArgs[hardenedArgs.indexOf('--name') + 1] = `bench-hardened-${i}`
      hardened.push(timeCommand(hardenedArgs))
    }

    const p50First = median(toFirstRequest)
    const ratio = median(hardened) / median(plain)
    console.log(`bench-sandbox (${RUNS} runs each, medians; image ${image.slice(0, 19)})`)
    console.log(
      `  action start -> first API request: ${p50First.toFixed(0)} ms  (min ${Math.min(...toFirstRequest)}, max ${Math.max(...toFirstRequest)}; target <= 2000 ms: ${p50First <= 2000 ? 'met' : 'MISSED'})`
    )
    console.log(`  plain docker run claude --version:    ${median(plain).toFixed(0)} ms`)
    console.log(`  hardened docker run claude --version: ${median(hardened).toFixed(0)} ms`)
    console.log(
      `  hardened / plain = ${ratio.toFixed(3)} (target <= 1.1: ${ratio <= 1.1 ? 'met' : 'MISSED'})`
    )
  } finally {
    await api.close()
    rmSync(repo, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(`bench-sandbox: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
