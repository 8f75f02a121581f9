/**
 * Benchmark of set-up (issue 12), in one run on one machine. The agent image holds no CLI: the
 * Claude Code binary is a cache entry of its own, restored as a file and mounted read-only.
 *   (a) cold set-up: build of docker/Dockerfile.agent (classic builder, --no-cache, a private copy
 *       of the base, the bundled default's flat/slim layout) + fetching the CLI with npm in the
 *       builder container;
 *   (b) save: docker save + store of the image, store of the CLI binary (local v2 cache service,
 *       the real @actions/cache client);
 *   (c) warm set-up as a fresh runner, BENCH_RUNS times (default 3): the image, its base and
 *       stages removed from the daemon, RUNNER_TEMP and the tool cache emptied (only the cache
 *       service keeps its data); then both entries restored in parallel (download, unzstd,
 *       untar; docker load for the image);
 *   (d) set-up with both present (docker image inspect + the binary's completion marker);
 *   (e) `npm install -g @anthropic-ai/claude-code` at the same version, with an empty npm cache,
 *       BENCH_RUNS times;
 * the ratios of the medians warm/npm (target <= 0.5) and present/npm (target <= 0.05), every
 * sample, and the peak disk space a
 * restore needs. Then the candidate it was chosen against: the CLI as an image layer (docker load)
 * instead of a file.
 *
 * The local cache service runs in a process of its own: the real one is remote, and serving from
 * this process would slow the client under measurement.
 *
 * Run: npx tsx scripts/bench-cache.ts
 * Env: BASE_IMAGE (default: claude-sandbox/debian:trixie-slim, else bookworm), BUILDER_IMAGE
 * (default claude-sandbox/node:bookworm-slim), CLAUDE_CODE_VERSION.
 * Everything created is removed at the end.
 */
import { spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { statfsSync } from 'node:fs'
import readline from 'node:readline'
import { computeImageCacheKey, readContextFiles } from '../src/image/cache-key.js'
import {
  restoreCliBinary,
  restoreImage,
  saveCliBinary,
  saveImage,
  type Logger
} from '../src/image/cache.js'
import {
  cliBinaryPath,
  cliBinaryPresent,
  cliCacheKey,
  cliPlatform,
  fetchCliBinary
} from '../src/image/cli-binary.js'
import type { FakeCacheEntry } from '../__tests__/servers/fake-cache.js'
import { announceQuick, QUICK, sized, verdict as judged } from './bench-mode.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PREFIX = 'claude-sandbox-bench-cache'
const tag = randomBytes(4).toString('hex')
const imageRef = `${PREFIX}:${tag}`
const privateBase = `${PREFIX}-base:${tag}`
const baseImage = process.env['BASE_IMAGE'] || ''
const builderImage = process.env['BUILDER_IMAGE'] || 'claude-sandbox/node:bookworm-slim'
const claudeVersion = process.env['CLAUDE_CODE_VERSION'] || '2.1.330'
const TARGET_WARM = 0.5
const TARGET_PRESENT = 0.05
/** Warm set-ups and npm installs, each measured this many times; the ratios use the medians. */
const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] || sized('3', '1')))

interface RunResult {
  code: number
  stdout: string
  stderr: string
}

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: NodeJS.ReadableStream } = {}
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (c: Buffer) => out.push(c))
    child.stderr?.on('data', (c: Buffer) => err.push(c))
    if (options.stdin && child.stdin) options.stdin.pipe(child.stdin)
    child.on('error', reject)
    child.on('close', code =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    )
  })
}

async function mustRun(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(command, args, { env })
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.slice(0, 3).join(' ')} failed (${result.code}):\n${(result.stderr || result.stdout).slice(-3000)}`
    )
  }
  return result.stdout
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = performance.now()
  const value = await fn()
  return { seconds: (performance.now() - start) / 1000, value }
}

/** Image IDs of the builder stages the classic builder leaves behind (untagged). */
function intermediateStageIds(buildOutput: string): string[] {
  const ids: string[] = []
  let lastId = ''
  let fromCount = 0
  for (const line of buildOutput.split('\n')) {
    const step = /^Step \d+\/\d+ : FROM /i.test(line)
    if (step) {
      if (fromCount > 0 && lastId) ids.push(lastId)
      fromCount++
    }
    const id = /^ ---> ([0-9a-f]{12,64})\s*$/.exec(line)
    if (id?.[1]) lastId = id[1]
  }
  return ids
}

/**
 * Of the candidate IDs, those this build made: untagged and created after it started. A stage
 * with no instructions ends on its base's ID, which must not be removed.
 */
async function ownUntaggedImages(ids: string[], since: number): Promise<string[]> {
  const own: string[] = []
  for (const id of ids) {
    const inspected = await run('docker', [
      'image',
      'inspect',
      '--format',
      '{{len .RepoTags}} {{.Created}}',
      id
    ])
    const [tags, created] = inspected.stdout.trim().split(' ')
    if (inspected.code === 0 && tags === '0' && Date.parse(created ?? '') >= since - 1000) {
      own.push(id)
    }
  }
  return own
}

const quietLog: Logger = {
  info: msg => console.log(`  [cache] ${msg}`),
  warning: msg => console.log(`  [cache] warning: ${msg}`)
}

const buildLog = {
  info: () => undefined,
  warning: (msg: string) => console.log(`  warning: ${msg}`),
  startGroup: () => undefined,
  endGroup: () => undefined
}

interface CacheServiceProcess {
  env: Record<string, string>
  entries(): Promise<FakeCacheEntry[]>
  close(): Promise<void>
}

/**
 * The fake cache service in its own process (__tests__/servers/fake-cache-process.ts): the real
 * service is remote, and serving from this process would put the server's work on the event
 * loop of the client being measured. It still shares the machine's cores.
 */
async function startCacheServiceProcess(): Promise<CacheServiceProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, '__tests__', 'servers', 'fake-cache-process.ts')],
    { stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const lines = readline.createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  lines.on('line', line => waiting.shift()?.(line))
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the cache service process did not answer in 30 s')),
        30_000
      )
      waiting.push(line => {
        clearTimeout(timer)
        resolve(line)
      })
    })
  const { env } = JSON.parse(await nextLine()) as { env: Record<string, string> }
  return {
    env,
    async entries() {
      const answer = nextLine()
      child.stdin.write('entries\n')
      return JSON.parse(await answer) as FakeCacheEntry[]
    },
    close: () =>
      new Promise<void>(resolve => {
        child.once('close', () => resolve())
        child.stdin.end()
      })
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir))
    await rm(path.join(dir, entry), { recursive: true, force: true })
}

/** Samples free space on the filesystems given until stopped; reports the largest drop. */
function diskSampler(dirs: string[]): { stop(): number } {
  const unique = new Map<string, string>()
  for (const dir of dirs) {
    const fs = statfsSync(dir)
    unique.set(`${fs.type}:${fs.blocks}:${fs.bsize}`, dir)
  }
  const free = (): number =>
    [...unique.values()].reduce((sum, dir) => {
      const fs = statfsSync(dir)
      return sum + fs.bavail * fs.bsize
    }, 0)
  const start = free()
  let lowest = start
  const timer = setInterval(() => {
    lowest = Math.min(lowest, free())
  }, 20)
  return {
    stop() {
      clearInterval(timer)
      lowest = Math.min(lowest, free())
      return start - lowest
    }
  }
}

async function pickBase(): Promise<string> {
  if (baseImage) return baseImage
  for (const candidate of [
    'claude-sandbox/debian:trixie-slim',
    'claude-sandbox/debian:bookworm-slim'
  ]) {
    if ((await run('docker', ['image', 'inspect', candidate])).code === 0) return candidate
  }
  throw new Error('no local base: run scripts/build-local-bases.sh, or set BASE_IMAGE')
}

async function main(): Promise<void> {
  announceQuick('bench-cache')
  const work = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`))
  const context = path.join(work, 'context')
  const runnerTemp = path.join(work, 'runner-temp')
  const toolCache = path.join(work, 'tool-cache')
  const candidateRef = `${PREFIX}-cli-layer:${tag}`
  let stageIds: string[] = []
  const service = await startCacheServiceProcess()
  // The cache client writes @actions/core commands to stdout; keep them out of the report.
  const stdoutWrite = process.stdout.write.bind(process.stdout)
  const muted = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    if (text.startsWith('::')) return true
    return (stdoutWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stdout.write
  process.stdout.write = muted

  try {
    for (const name of ['ACTIONS_CACHE_URL', 'GITHUB_SERVER_URL', 'ACTIONS_CACHE_MODE']) {
      delete process.env[name]
    }
    Object.assign(process.env, service.env, {
      RUNNER_TEMP: runnerTemp,
      RUNNER_TOOL_CACHE: toolCache,
      GITHUB_WORKSPACE: work
    })
    await mkdir(runnerTemp, { recursive: true })
    await mkdir(toolCache, { recursive: true })
    const base = await pickBase()

    console.log(
      `bench-cache: base ${base}, CLI ${claudeVersion}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)}`
    )
    // A private copy of the runtime base, so the image's layers are all its own.
    const container = (await mustRun('docker', ['create', base, 'true'])).trim()
    try {
      const exported = spawn('docker', ['export', container], {
        stdio: ['ignore', 'pipe', 'inherit']
      })
      const imported = await run(
        'docker',
        [
          'import',
          '--change',
          'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          '--change',
          'CMD ["bash"]',
          '-',
          privateBase
        ],
        { stdin: exported.stdout }
      )
      if (imported.code !== 0) throw new Error(`docker import failed: ${imported.stderr}`)
    } finally {
      await run('docker', ['rm', container])
    }

    // The build context the action makes (prepareBundledContext): Dockerfile and entrypoint.
    await mkdir(context)
    for (const name of ['Dockerfile.agent', 'agent-entrypoint.sh', '.dockerignore']) {
      const source = path.join(repoRoot, 'docker', name)
      if (existsSync(source)) await copyFile(source, path.join(context, name))
    }
    await chmod(path.join(context, 'agent-entrypoint.sh'), 0o755)
    const caFile = [process.env['SSL_CERT_FILE'], process.env['NODE_EXTRA_CA_CERTS']].find(
      f => f && existsSync(f)
    )

    // The default base's layout: one flat, slimmed layer.
    const buildArgs = { BASE_IMAGE: privateBase, LAYOUT: 'flat', SLIM: 'true' }
    const platform = cliPlatform()
    const key = computeImageCacheKey({
      os: platform.os,
      arch: platform.arch,
      dockerfileContent: await readFile(path.join(context, 'Dockerfile.agent')),
      contextFiles: await readContextFiles(context),
      buildArgs,
      extraPackages: [],
      claudeCodeVersion: '',
      caBundleSha256: '',
      baseImageRefs: [privateBase]
    })
    const cliKey = cliCacheKey(claudeVersion, platform)
    const binaryPath = cliBinaryPath(toolCache, claudeVersion, platform.arch)
    const tarPath = path.join(runnerTemp, 'claude-sandbox-agent-image.tar')

    // (a) cold set-up: build + fetch
    console.log('(a) cold build + CLI fetch ...')
    const buildStarted = Date.now()
    const build = await timed(() =>
      run(
        'docker',
        [
          'build',
          '--no-cache',
          '--force-rm',
          '--file',
          path.join(context, 'Dockerfile.agent'),
          '--tag',
          imageRef,
          ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
          context
        ],
        { env: { ...process.env, DOCKER_BUILDKIT: '0' } }
      )
    )
    stageIds = await ownUntaggedImages(intermediateStageIds(build.value.stdout), buildStarted)
    if (build.value.code !== 0) {
      throw new Error(
        `docker build failed:\n${(build.value.stdout + build.value.stderr).slice(-4000)}`
      )
    }
    const fetch = await timed(() =>
      fetchCliBinary({ version: claudeVersion, builderImage, caFile, binaryPath, log: buildLog })
    )
    const builtId = (
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', imageRef])
    ).trim()
    const imageBytes = Number(
      (await mustRun('docker', ['image', 'inspect', '--format', '{{.Size}}', imageRef])).trim()
    )
    const cliBytes = (await stat(binaryPath)).size
    // docker load is paid per file more than per byte: print the image's count of entries.
    const imageFiles = (
      await mustRun('docker', [
        'run',
        '--rm',
        '--network',
        'none',
        '--user',
        '0',
        '--entrypoint',
        'sh',
        imageRef,
        '-c',
        'find / -xdev | wc -l'
      ])
    ).trim()

    // (b) save both
    console.log('(b) save: docker save + store the image, store the CLI ...')
    const saveImg = await timed(() => saveImage({ key, imageRef, tarPath, log: quietLog }))
    const saveCli = await timed(() => saveCliBinary({ key: cliKey, binaryPath, log: quietLog }))
    if (!saveImg.value || !saveCli.value) throw new Error('saving failed')
    const stored = await service.entries()
    const imageEntry = stored.find(e => e.key === key)
    const cliEntry = stored.find(e => e.key === cliKey)

    // (c) a fresh runner: nothing left but the cache service's data
    const baseId = (
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', privateBase])
    ).trim()
    await mustRun('docker', ['rmi', imageRef])
    for (const id of stageIds) await run('docker', ['rmi', id])
    await mustRun('docker', ['rmi', privateBase])
    for (const id of [builtId, baseId]) {
      if ((await run('docker', ['image', 'inspect', id])).code === 0) {
        throw new Error(`${id} is still present after docker rmi`)
      }
    }
    const dockerRoot =
      (await run('docker', ['info', '--format', '{{.DockerRootDir}}'])).stdout.trim() || runnerTemp
    console.log(`(c) warm set-up on a fresh runner, ${RUNS} times: both restores in parallel ...`)
    const warmRuns: Array<{ seconds: number; restore: number; load: number; cli: number }> = []
    let peakMeasured = 0
    for (let i = 0; i < RUNS; i++) {
      // Fresh again: the image the previous round loaded, RUNNER_TEMP and the tool cache go.
      if (i > 0) await mustRun('docker', ['rmi', imageRef])
      await emptyDir(runnerTemp)
      await emptyDir(toolCache)
      const sampler = diskSampler([
        runnerTemp,
        toolCache,
        ...(existsSync(dockerRoot) ? [dockerRoot] : [])
      ])
      const warm = await timed(() =>
        Promise.all([
          restoreImage({ key, tarPath, log: quietLog }),
          timed(() => restoreCliBinary({ key: cliKey, binaryPath, log: quietLog }))
        ])
      )
      peakMeasured = Math.max(peakMeasured, sampler.stop())
      const [restoredImage, restoredCli] = warm.value
      if (!restoredImage.hit || !restoredCli.value) throw new Error('a restore missed')
      if (restoredImage.imageId !== builtId) {
        throw new Error(`loaded ${restoredImage.imageId}, built ${builtId}`)
      }
      warmRuns.push({
        seconds: warm.seconds,
        restore: (restoredImage.durationsMs?.restore ?? 0) / 1000,
        load: (restoredImage.durationsMs?.load ?? 0) / 1000,
        cli: restoredCli.seconds
      })
    }

    // (d) both present
    const present = await timed(async () => {
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', imageRef])
      if (!(await cliBinaryPresent(binaryPath))) throw new Error('CLI binary not present')
    })

    // (e) the anchors' set-up: npm install of the CLI, with an empty npm cache
    console.log('(e) npm install -g @anthropic-ai/claude-code ...')
    const npmRuns: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const npm = await timed(() =>
        mustRun('npm', [
          'install',
          '--global',
          '--prefix',
          path.join(work, 'npm-prefix'),
          '--cache',
          path.join(work, 'npm-cache'),
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          `@anthropic-ai/claude-code@${claudeVersion}`
        ])
      )
      npmRuns.push(npm.seconds)
      await rm(path.join(work, 'npm-prefix'), { recursive: true, force: true })
      await rm(path.join(work, 'npm-cache'), { recursive: true, force: true })
    }

    // The candidate: the CLI as an image layer, loaded with docker load, instead of a file.
    // A design figure, not a set-up one: left out of the quick run.
    const load = QUICK ? undefined : await candidateLoad()
    async function candidateLoad(): Promise<{ seconds: number }> {
      console.log('(f) candidate: the CLI binary as an image layer (docker load) ...')
      const layerDir = path.join(work, 'layer')
      await mkdir(path.join(layerDir, 'usr', 'local', 'bin'), { recursive: true })
      await copyFile(binaryPath, path.join(layerDir, 'usr', 'local', 'bin', 'claude'))
      const packed = spawn('tar', ['-C', layerDir, '-c', '.'], {
        stdio: ['ignore', 'pipe', 'inherit']
      })
      const imported = await run('docker', ['import', '-', candidateRef], { stdin: packed.stdout })
      if (imported.code !== 0) throw new Error(`docker import failed: ${imported.stderr}`)
      await rm(layerDir, { recursive: true, force: true })
      const candidateTar = path.join(work, 'cli-layer.tar')
      await mustRun('docker', ['save', '--output', candidateTar, candidateRef])
      await mustRun('docker', ['rmi', candidateRef])
      const loaded = await timed(() => mustRun('docker', ['load', '--input', candidateTar]))
      await rm(candidateTar, { force: true })
      return loaded
    }

    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`
    const row = (label: string, seconds: number): string =>
      `  ${label.padEnd(52)} ${seconds.toFixed(2).padStart(8)} s`
    const imgZ = imageEntry?.sizeBytes ?? 0
    const cliZ = cliEntry?.sizeBytes ?? 0
    console.log('')
    console.log(
      `image ${mb(imageBytes)}, ${imageFiles} files (no CLI in it), cache entry ${mb(imgZ)}; CLI binary ${mb(cliBytes)}, cache entry ${mb(cliZ)} (zstd -3 --long=30 by the client)`
    )
    console.log(`keys: ${key} | ${cliKey}`)
    console.log(
      row('(a) cold set-up: build (--no-cache) + CLI fetch', build.seconds + fetch.seconds)
    )
    console.log(row('    of which image build', build.seconds))
    console.log(row('    of which CLI fetch (npm in the builder container)', fetch.seconds))
    console.log(
      row('(b) save: image (docker save + store) + CLI (store)', saveImg.seconds + saveCli.seconds)
    )
    const samples = (values: number[]): string => values.map(v => v.toFixed(2)).join(' ')
    const warmSeconds = median(warmRuns.map(r => r.seconds))
    const npmSeconds = median(npmRuns)
    console.log(
      `${row(`(c) warm set-up, fresh runner, median of ${RUNS}`, warmSeconds)}   [${samples(warmRuns.map(r => r.seconds))}]`
    )
    const phase = (label: string, pick: (r: (typeof warmRuns)[number]) => number): void =>
      console.log(`${row(label, median(warmRuns.map(pick)))}   [${samples(warmRuns.map(pick))}]`)
    phase('    image: restore (download, unzstd, untar)', r => r.restore)
    phase('    image: docker load', r => r.load)
    phase('    CLI: restore (download, unzstd, untar)', r => r.cli)
    console.log(row('(d) set-up with image and CLI present', present.seconds))
    console.log(
      `${row(`(e) npm install -g claude-code@${claudeVersion}, empty cache`, npmSeconds)}   [${samples(npmRuns)}]`
    )
    if (load) console.log(row('(f) candidate: docker load of the CLI as a layer', load.seconds))
    const verdict = (ratio: number, target: number): string =>
      `${ratio.toFixed(3)} (target <= ${target}: ${judged(ratio <= target)})`
    console.log(`  warm / npm    = ${verdict(warmSeconds / npmSeconds, TARGET_WARM)}`)
    console.log(`  present / npm = ${verdict(present.seconds / npmSeconds, TARGET_PRESENT)}`)
    console.log(`  warm / cold   = ${(warmSeconds / (build.seconds + fetch.seconds)).toFixed(3)}`)
    // What a restore holds on disk at once: each archive and what it unpacks to, and the
    // daemon's copy of the image's layers (the tarball is deleted after docker load).
    const accounted = imgZ + imageBytes * 2 + cliZ + cliBytes
    console.log(
      `  peak disk for a restore: ${mb(accounted)} upper bound (archives ${mb(imgZ + cliZ)} + image tarball ${mb(imageBytes)} + layers ${mb(imageBytes)} + CLI ${mb(cliBytes)}); ${mb(peakMeasured)} measured (free-space sampling, shared machine)`
    )
  } finally {
    process.stdout.write = stdoutWrite
    for (const ref of [imageRef, privateBase, candidateRef, ...stageIds]) {
      // Without --force: never removes an image that something else still uses.
      await run('docker', ['rmi', ref])
    }
    await service.close()
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error))
  process.exitCode = 1
})
