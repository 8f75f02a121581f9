/**
 * Benchmark of set-up (issues 12, 22 and 23), in one run on one machine, through prepareImage()
 * (what the action runs), as on a GitHub-hosted runner: buildx, the bundled Dockerfile's default
 * base in a registry (Debian's docker-registry on loopback standing in for Docker Hub), the
 * Actions cache (the local v2 service, in a process of its own, driven by the real client), and
 * the released image in a second local registry standing in for ghcr. Every set-up starts as a
 * fresh runner: agent images removed, RUNNER_TEMP and the tool cache emptied.
 *   (a) cold set-up, build: empty cache, prebuilt-image: never (build with buildx + CLI fetch,
 *       both stored in the cache);
 *   (b) warm set-up: the cache from (a), BENCH_RUNS times (base digest asked of the registry,
 *       image and CLI restored in parallel);
 *   (c) cold set-up, prebuilt pull: another empty cache, prebuilt-image: auto (pull by digest +
 *       CLI fetch, both stored);
 *   (d) set-up with image and CLI present;
 *   (e) `npm install -g @anthropic-ai/claude-code` at the same version, empty npm cache,
 *       BENCH_RUNS times.
 * Ratios of the medians: warm/npm (target <= 0.4), cold pull/npm (target <= 1.0), cold pull /
 * cold build. The base gets a unique layer per run so (a) builds from scratch (no layer cache).
 *
 * BENCH_QUICK=1: one run of each, no (a) (the warm set-up restores the entry (c) stored), no
 * verdicts; for CI, to show it still runs.
 * Run: npx tsx scripts/bench-cache.ts
 * Env: BASE_IMAGE (default: claude-sandbox/debian:trixie-slim, else bookworm), BUILDER_IMAGE
 * (default none: the CLI is fetched with the runner's npm), CLAUDE_CODE_VERSION, BENCH_RUNS
 * (default 3).
 * Everything created is removed at the end.
 */
import { spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import readline from 'node:readline'
import type { FakeCacheEntry } from '../__tests__/servers/fake-cache.js'
import { median, QUICK } from './bench-mode.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PREFIX = 'claude-sandbox-bench-cache'
const tag = randomBytes(4).toString('hex')
const privateBase = `${PREFIX}-base:${tag}`
const baseImage = process.env['BASE_IMAGE'] || ''
/** Set, the CLI is fetched in that builder container; unset, with the runner's npm (the default). */
const builderImage = process.env['BUILDER_IMAGE'] || ''
const claudeVersion = process.env['CLAUDE_CODE_VERSION'] || '2.1.330'
/** Warm set-ups and npm installs, each measured this many times; the ratios use the medians. */
const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] || '3'))

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

interface CacheServiceProcess {
  env: Record<string, string>
  entries(): Promise<FakeCacheEntry[]>
  close(): Promise<void>
}

/**
 * The fake cache service in its own process (__tests__/servers/fake-cache-process.ts): the real
 * service is remote, and serving from this process would put the server's work on the event
 * loop of the client being measured. It still shares the machine's cores (at nice 19 it starved
 * whenever other work ran, so it runs at the client's priority). It is not the bottleneck: curl
 * reads a 162 MB blob from it in 0.2-0.3 s, the cache client's single-stream download in 0.7-1.2 s.
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

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir))
    await rm(path.join(dir, entry), { recursive: true, force: true })
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

const TARGET_WARM_RATIO = 0.4
const TARGET_COLD_RATIO = 1.0

/** Removes the image and every tag it has (without --force: nothing a container uses). */
async function removeImage(ref: string): Promise<void> {
  const tags = await run('docker', ['image', 'inspect', '--format', '{{join .RepoTags " "}}', ref])
  for (const t of tags.stdout.trim().split(' ').filter(Boolean)) await run('docker', ['rmi', t])
  await run('docker', ['rmi', ref])
}

async function main(): Promise<void> {
  const { startRegistry, pushImage } = await import('../__tests__/helpers/registry.js')
  const { prepareImage } = await import('../src/image/prepare.js')
  const { imageSourceDigest, writePrebuiltRecord } = await import('../src/image/prebuilt-record.js')
  const work = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`))
  const runnerTemp = path.join(work, 'runner-temp')
  const toolCache = path.join(work, 'tool-cache')
  const dockerDir = path.join(work, 'docker')
  const [hub, ghcr] = await Promise.all([startRegistry(), startRegistry()])
  const services: CacheServiceProcess[] = []
  const images = new Set<string>()
  /** The classic builder's stage images of the release build (removed at the end). */
  const stageImages = new Set<string>()
  const stdoutWrite = process.stdout.write.bind(process.stdout)
  // The cache client writes @actions/core commands to stdout; keep them out of the report.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    if (text.startsWith('::')) return true
    return (stdoutWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof process.stdout.write

  try {
    for (const name of ['ACTIONS_CACHE_URL', 'GITHUB_SERVER_URL', 'ACTIONS_CACHE_MODE'])
      delete process.env[name]
    Object.assign(process.env, {
      RUNNER_TEMP: runnerTemp,
      RUNNER_TOOL_CACHE: toolCache,
      GITHUB_WORKSPACE: work
    })
    await mkdir(runnerTemp, { recursive: true })
    await mkdir(toolCache, { recursive: true })
    if ((await run('docker', ['buildx', 'version'])).code !== 0)
      throw new Error('docker buildx is not installed (scripts/install-buildx.sh)')
    const base = await pickBase()
    console.log(
      `bench-cache: base ${base}, CLI ${claudeVersion}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]?.toFixed(1)}${QUICK ? ', BENCH_QUICK' : ''}`
    )

    // The default base in the "hub" registry, with a layer of its own so nothing is cached.
    const baseCtx = path.join(work, 'base')
    await mkdir(baseCtx)
    await writeFile(
      path.join(baseCtx, 'Dockerfile'),
      `FROM ${base}\nRUN echo ${tag}-${Date.now()} > /etc/bench-cache-nonce\n`
    )
    await mustRun('docker', ['build', '-q', '-t', privateBase, baseCtx], {
      ...process.env,
      DOCKER_BUILDKIT: '0'
    })
    images.add(privateBase)
    const hubBase = `${hub.host}/library/debian:13-slim`
    pushImage(privateBase, hubBase)
    const baseId = (
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', privateBase])
    ).trim()
    await mustRun('docker', ['rmi', privateBase])

    // The action's docker/ with that default base (GitHub's runners pull debian:13-slim).
    await mkdir(dockerDir)
    for (const name of ['Dockerfile.agent', 'agent-entrypoint.sh', '.dockerignore']) {
      await copyFile(path.join(repoRoot, 'docker', name), path.join(dockerDir, name))
    }
    await chmod(path.join(dockerDir, 'agent-entrypoint.sh'), 0o755)
    const dockerfile = path.join(dockerDir, 'Dockerfile.agent')
    const text = await readFile(dockerfile, 'utf8')
    await writeFile(dockerfile, text.replace(/^ARG BASE_IMAGE=\S+$/m, `ARG BASE_IMAGE=${hubBase}`))
    const caFile = [process.env['SSL_CERT_FILE'], process.env['NODE_EXTRA_CA_CERTS']].find(
      f => f && existsSync(f)
    )
    const settings = (prebuilt: 'auto' | 'never') => ({
      dockerfile,
      bundledDockerfile: true,
      // No BUILDER_IMAGE: the CLI is fetched as on a GitHub runner, with the runner's npm.
      buildArgs: (builderImage ? { BUILDER_IMAGE: builderImage } : {}) as Record<string, string>,
      extraPackages: [],
      caCertificates: caFile,
      cache: true,
      prebuiltImage: prebuilt
    })
    const log = {
      info: () => undefined,
      warning: (msg: string) => console.log(`  warning: ${msg}`),
      notice: (msg: string) => console.log(`  notice: ${msg}`),
      startGroup: () => undefined,
      endGroup: () => undefined
    }
    let runDirs = 0
    /** One set-up on a fresh runner (or with what is present when `fresh` is false). */
    const setUp = async (prebuilt: 'auto' | 'never', fresh = true) => {
      if (fresh) {
        for (const ref of images) await removeImage(ref)
        await emptyDir(runnerTemp)
        await emptyDir(toolCache)
        // The previous set-up's writes (its cache saves: hundreds of MB the service stored just
        // before) flushed now, not during this one's restores: a fresh runner starts clean.
        await run('sync', [])
      }
      const runDir = path.join(work, `run-${runDirs++}`)
      await mkdir(runDir)
      const result = await timed(() =>
        prepareImage(settings(prebuilt), claudeVersion, runDir, dockerDir, log, {
          workspace: work
        })
      )
      images.add(result.value.id)
      if (result.value.ref && !result.value.ref.startsWith('sha256:')) images.add(result.value.ref)
      // The cache saves run beside the agent, after set-up: timed on their own.
      const saves = await timed(() => result.value.saved ?? Promise.resolve())
      return { ...result, savesAfter: saves.seconds }
    }
    const useService = async (): Promise<void> => {
      const service = await startCacheServiceProcess()
      services.push(service)
      Object.assign(process.env, service.env)
    }

    let coldBuild: number | undefined
    let coldBuildSaves = 0
    const warmRuns: number[] = []
    let presentBuilt: number | undefined
    const warmPrebuiltRuns: number[] = []
    /** Each sample's phases, printed under the figures: where the time went. */
    const phaseLines: string[] = []
    const imageShapes: string[] = []
    const phasesOf = (label: string, seconds: number, phases?: Record<string, number>): void => {
      const parts = Object.entries(phases ?? {}).map(
        ([name, ms]) => `${name} ${(ms / 1000).toFixed(2)}`
      )
      phaseLines.push(
        `  ${label.padEnd(30)} ${seconds.toFixed(2).padStart(6)} s: ${parts.join(', ')}`
      )
    }
    if (!QUICK) {
      console.log('(a) cold set-up, build (buildx) + CLI fetch, empty cache ...')
      await useService()
      const a = await setUp('never')
      if (!a.value.built) throw new Error('(a) did not build')
      coldBuild = a.seconds
      coldBuildSaves = a.savesAfter
      const inspected = await run('docker', [
        'image',
        'inspect',
        '--format',
        '{{.Size}} {{len .RootFS.Layers}}',
        a.value.id
      ])
      const [size = '0', layers = '?'] = inspected.stdout.trim().split(' ')
      imageShapes.push(`built image: ${(Number(size) / 1e6).toFixed(0)} MB in ${layers} layer(s)`)
      phasesOf('(a) cold, build', a.seconds, a.value.phasesMs)
      console.log(`(b) warm set-up on a fresh runner, ${RUNS} times ...`)
      for (let i = 0; i < RUNS; i++) {
        const b = await setUp('never')
        if (!b.value.cacheHit || b.value.cli?.source !== 'cache') throw new Error('(b) missed')
        warmRuns.push(b.seconds)
        phasesOf(`(b) warm, built entry ${i + 1}`, b.seconds, b.value.phasesMs)
      }
      const d = await setUp('never', false)
      if (d.value.built || d.value.cli?.source !== 'present') throw new Error('(d) not present')
      presentBuilt = d.seconds
      phasesOf('(d) present, build path', d.seconds, d.value.phasesMs)
    }

    // The release: the same docker/ built, pushed by digest, recorded. With the classic builder:
    // whatever BuildKit builds on this daemon stays in its build cache, and a pull of the same
    // layer then finds it there ("Already exists", 0.2-0.3 s: the pull was not measured at all).
    // A classic build's layers go with its images, so the pull below downloads and unpacks.
    const repository = `${ghcr.host}/org/claude-sandbox-action/agent`
    const before = new Set((await mustRun('docker', ['images', '-aq', '--no-trunc'])).split('\n'))
    await mustRun(
      'docker',
      ['build', '--quiet', '--tag', `${repository}:build`, '--file', dockerfile, dockerDir],
      { ...process.env, DOCKER_BUILDKIT: '0' }
    )
    images.add(`${repository}:build`)
    images.add(hubBase)
    // The builder's other stages stay as untagged images: those built on this run's base.
    for (const id of (await mustRun('docker', ['images', '-aq', '--no-trunc'])).split('\n')) {
      if (!id || before.has(id)) continue
      const history = await run('docker', ['history', '-q', '--no-trunc', id])
      if (history.stdout.split('\n').includes(baseId)) stageImages.add(id)
    }
    const digest = pushImage(`${repository}:build`, `${repository}:1.0.0`)
    writePrebuiltRecord(dockerDir, {
      repository,
      version: '1.0.0',
      sourceDigest: imageSourceDigest(dockerDir),
      platforms: { 'linux/amd64': digest }
    })

    console.log('(c) cold set-up, prebuilt pull + CLI fetch, empty cache ...')
    await useService()
    const c = await setUp('auto')
    if (!c.value.pulled) throw new Error('(c) did not pull the prebuilt image')
    const coldPull = c.seconds
    const shape = async (ref: string): Promise<string> => {
      const out = await run('docker', [
        'image',
        'inspect',
        '--format',
        '{{.Size}} {{len .RootFS.Layers}}',
        ref
      ])
      const [size = '0', layers = '?'] = out.stdout.trim().split(' ')
      return `${(Number(size) / 1e6).toFixed(0)} MB in ${layers} layer(s)`
    }
    imageShapes.push(`released image (pulled): ${await shape(c.value.id)}`)
    phasesOf('(c) cold, prebuilt pull', c.seconds, c.value.phasesMs)
    if (!QUICK) console.log(`(b') warm set-up from the prebuilt entry, ${RUNS} times ...`)
    for (let i = 0; i < (QUICK ? 1 : RUNS); i++) {
      const b = await setUp('auto')
      if (!b.value.cacheHit || b.value.cli?.source !== 'cache') throw new Error("(b') missed")
      warmPrebuiltRuns.push(b.seconds)
      phasesOf(`(b') warm, prebuilt entry ${i + 1}`, b.seconds, b.value.phasesMs)
    }
    // Present: with the prebuilt record (no base at all), and on the build path (found by its
    // inputs, the base's digest not asked before the start).
    const present = await setUp('auto', false)

    console.log('(e) npm install -g @anthropic-ai/claude-code ...')
    const npmRuns: number[] = []
    for (let i = 0; i < (QUICK ? 1 : RUNS); i++) {
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

    const row = (label: string, seconds: number, samples?: number[]): string =>
      `  ${label.padEnd(56)} ${seconds.toFixed(2).padStart(8)} s${samples ? `   [${samples.map(v => v.toFixed(2)).join(' ')}]` : ''}`
    const warm = QUICK ? median(warmPrebuiltRuns) : median(warmRuns)
    const warmPrebuilt = median(warmPrebuiltRuns)
    const npm = median(npmRuns)
    console.log('')
    if (coldBuild !== undefined) {
      console.log(row('(a) cold set-up: build + CLI fetch (in parallel)', coldBuild))
      console.log(row('    then the cache saves, beside the agent', coldBuildSaves))
    }
    if (warmRuns.length > 0)
      console.log(
        row(`(b) warm set-up, built entry*, median of ${warmRuns.length}`, warm, warmRuns)
      )
    console.log(
      row(
        `(b') warm set-up, prebuilt entry, median of ${warmPrebuiltRuns.length}`,
        warmPrebuilt,
        warmPrebuiltRuns
      )
    )
    console.log(row('(c) cold set-up: prebuilt pull + CLI fetch (in parallel)', coldPull))
    console.log(row('    then the cache saves, beside the agent', c.savesAfter))
    console.log(row('(d) image and CLI present (prebuilt record)', present.seconds))
    if (presentBuilt !== undefined)
      console.log(row('(d) image and CLI present (build path, by inputs)', presentBuilt))
    console.log(row(`(e) npm install -g claude-code@${claudeVersion}, empty cache`, npm, npmRuns))
    const ratio = (label: string, value: number, target?: number): void => {
      const verdict =
        QUICK || target === undefined
          ? ''
          : ` (target <= ${target}: ${value <= target ? 'met' : 'MISSED'})`
      console.log(`  ${label.padEnd(24)} = ${value.toFixed(3)}${verdict}`)
    }
    if (warmRuns.length > 0) ratio('warm (built*) / npm', warm / npm, TARGET_WARM_RATIO)
    ratio('warm (prebuilt) / npm', warmPrebuilt / npm, TARGET_WARM_RATIO)
    ratio('cold pull / npm', coldPull / npm, TARGET_COLD_RATIO)
    if (coldBuild !== undefined) {
      ratio('cold build / npm', coldBuild / npm)
      ratio('cold pull / cold build', coldPull / coldBuild)
    }
    if (warmRuns.length > 0)
      console.log(
        "  * (a)'s layers stay in BuildKit's build cache on this daemon, so (b)'s docker load finds\n" +
          "    the layer there and skips unpacking it: optimistic. (b') loads a classic-built image's\n" +
          '    layer, which nothing keeps: what a fresh runner pays.'
      )
    console.log('\nphases of each set-up, seconds (they overlap; see PreparedImage.phasesMs):')
    for (const line of phaseLines) console.log(line)
    for (const line of imageShapes) console.log(`  ${line}`)
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map(v => v.toFixed(1))
        .join(' ')}`
    )
  } finally {
    process.stdout.write = stdoutWrite
    for (const ref of images) await removeImage(ref)
    for (const id of stageImages) await run('docker', ['rmi', id])
    await Promise.all([hub.close(), ghcr.close(), ...services.map(s => s.close())])
    await rm(work, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error))
  process.exitCode = 1
})
