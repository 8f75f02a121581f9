/**
 * Benchmark of the agent image cache (issue 5), in one run on one machine:
 *   (a) cold build of docker/Dockerfile.agent (classic builder, --no-cache, local bases),
 *   (b) docker save + store in a local v2 Actions cache service (the real @actions/cache client),
 *   (c) warm set-up: the image removed from the daemon, then restore + docker load,
 *   (d) set-up with the image already present (docker image inspect),
 *   (e) `npm install -g @anthropic-ai/claude-code` at the same version, with an empty npm cache,
 * then the ratios warm/npm (target <= 0.75) and present/npm (target <= 0.1).
 *
 * Run: npx tsx scripts/bench-cache.ts
 * Env: BASE_IMAGE, BUILDER_IMAGE (default: the local claude-sandbox/* bases), CLAUDE_CODE_VERSION.
 *
 * The runtime stage is built on a private copy of BASE_IMAGE (docker export | docker import, not
 * timed) so that removing the built image removes all of its layers: the warm set-up then loads
 * every layer, as on a fresh runner, rather than finding the base's layers already there.
 * Everything created is removed at the end.
 */
import { spawn } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { computeImageCacheKey, readContextFiles } from '../src/image/cache-key.js'
import { restoreImage, saveImage, type Logger } from '../src/image/cache.js'
import { startFakeCacheService } from '../__tests__/servers/fake-cache.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PREFIX = 'claude-sandbox-bench-cache'
const tag = randomBytes(4).toString('hex')
const imageRef = `${PREFIX}:${tag}`
const privateBase = `${PREFIX}-base:${tag}`
const baseImage = process.env['BASE_IMAGE'] || 'claude-sandbox/debian:bookworm-slim'
const builderImage = process.env['BUILDER_IMAGE'] || 'claude-sandbox/node:bookworm-slim'
const claudeVersion = process.env['CLAUDE_CODE_VERSION'] || '2.1.330'
const TARGET_WARM = 0.75
const TARGET_PRESENT = 0.1

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

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`))
  const context = path.join(work, 'context')
  let stageIds: string[] = []
  const service = await startFakeCacheService()
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
    Object.assign(process.env, service.env, { RUNNER_TEMP: path.join(work, 'runner-temp') })
    await mkdir(process.env['RUNNER_TEMP'] as string, { recursive: true })

    console.log(`bench-cache: image ${imageRef}, CLI ${claudeVersion}, ${os.cpus().length} CPUs`)
    // A private copy of the runtime base, so the image's layers are all its own.
    const container = (await mustRun('docker', ['create', baseImage, 'true'])).trim()
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

    // The build context the action would make: Dockerfile, entrypoint and the CA bundle.
    // As prepareBundledContext in src/image/build.ts makes it.
    await mkdir(context)
    for (const name of ['Dockerfile.agent', 'agent-entrypoint.sh', '.dockerignore']) {
      const source = path.join(repoRoot, 'docker', name)
      if (existsSync(source)) await copyFile(source, path.join(context, name))
    }
    await chmod(path.join(context, 'agent-entrypoint.sh'), 0o755)
    const caSource = process.env['SSL_CERT_FILE'] || process.env['NODE_EXTRA_CA_CERTS'] || ''
    const ca = caSource && existsSync(caSource) ? await readFile(caSource) : Buffer.alloc(0)
    await writeFile(path.join(context, 'sandbox-ca.pem'), ca)

    const buildArgs = {
      BASE_IMAGE: privateBase,
      BUILDER_IMAGE: builderImage,
      CLAUDE_CODE_VERSION: claudeVersion
    }
    const keyTiming = await timed(async () =>
      computeImageCacheKey({
        os: process.platform,
        arch: process.arch,
        dockerfileContent: await readFile(path.join(context, 'Dockerfile.agent')),
        contextFiles: await readContextFiles(context),
        buildArgs,
        extraPackages: [],
        claudeCodeVersion: claudeVersion,
        caBundleSha256: ca.length ? createHash('sha256').update(ca).digest('hex') : '',
        baseImageRefs: [builderImage, privateBase]
      })
    )
    const key = keyTiming.value
    const tarPath = path.join(
      process.env['RUNNER_TEMP'] as string,
      'claude-sandbox-agent-image.tar'
    )

    // (a) cold build
    console.log('(a) cold build ...')
    const buildStarted = Date.now()
    const build = await timed(() =>
      run(
        'docker',
        [
          'build',
          '--no-cache',
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
    const builtId = (
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', imageRef])
    ).trim()
    const sizeBytes = Number(
      (await mustRun('docker', ['image', 'inspect', '--format', '{{.Size}}', imageRef])).trim()
    )

    // (b) save to the cache right after the build
    console.log('(b) docker save + store in the cache ...')
    const save = await timed(() => saveImage({ key, imageRef, tarPath, log: quietLog }))
    if (!save.value) throw new Error('saveImage failed')
    const entry = service.entries.find(e => e.key === key)
    const uploads = service.requests.filter(
      r => r.operation.startsWith('blob:') && r.method === 'PUT'
    )

    // (c) warm set-up on a daemon without the image (nor its base)
    // Stages built on the private base hold its layer: remove them too, so nothing is left.
    const baseId = (
      await mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', privateBase])
    ).trim()
    await mustRun('docker', ['rmi', imageRef])
    // A stage the final one builds on went with it; the others go now.
    for (const id of stageIds) await run('docker', ['rmi', id])
    console.log(`  (removed the build's ${stageIds.length} intermediate stage image(s))`)
    await mustRun('docker', ['rmi', privateBase])
    for (const id of [builtId, baseId]) {
      if ((await run('docker', ['image', 'inspect', id])).code === 0) {
        throw new Error(`${id} is still present after docker rmi`)
      }
    }
    console.log('(c) warm set-up: restore + docker load ...')
    const warm = await timed(() => restoreImage({ key, tarPath, log: quietLog }))
    if (!warm.value.hit) throw new Error('restoreImage missed')
    if (warm.value.imageId !== builtId) {
      throw new Error(`loaded ${warm.value.imageId}, built ${builtId}`)
    }

    // (d) set-up with the image already present
    const present = await timed(() =>
      mustRun('docker', ['image', 'inspect', '--format', '{{.Id}}', imageRef])
    )

    // (e) the anchors' set-up: npm install of the CLI, with an empty npm cache
    console.log('(e) npm install -g @anthropic-ai/claude-code ...')
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

    const ratioWarm = warm.seconds / npm.seconds
    const ratioPresent = present.seconds / npm.seconds
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`
    const row = (label: string, seconds: number): string =>
      `  ${label.padEnd(44)} ${seconds.toFixed(2).padStart(8)} s`
    console.log('')
    console.log(
      `image ${mb(sizeBytes)}; cache entry ${mb(entry?.sizeBytes ?? 0)} (zstd by the client), ${uploads.length} upload request(s)`
    )
    // Issue 2's size target: the image against the CLI binary it exists to carry.
    const cliBytes = Number(
      (
        await mustRun('docker', [
          'run',
          '--rm',
          '--entrypoint',
          'stat',
          imageRef,
          '-c',
          '%s',
          '/usr/local/bin/claude'
        ])
      ).trim()
    )
    const sizeRatio = sizeBytes / cliBytes
    console.log(
      `image / CLI binary = ${mb(sizeBytes)} / ${mb(cliBytes)} = ${sizeRatio.toFixed(3)} (target <= 1.25 with the official slim bases; these are the local debootstrap bases)`
    )
    console.log(`key ${key} (computed in ${(keyTiming.seconds * 1000).toFixed(0)} ms)`)
    console.log(row('(a) cold build (--no-cache)', build.seconds))
    console.log(row('(b) docker save + store in the cache', save.seconds))
    console.log(row('(c) warm set-up: restore + docker load', warm.seconds))
    const phases = warm.value.durationsMs
    if (phases) {
      console.log(row('    of which restore (download, unzstd, untar)', phases.restore / 1000))
      console.log(row('    of which docker load', phases.load / 1000))
    }
    console.log(row('(d) set-up with the image present', present.seconds))
    console.log(row(`(e) npm install -g claude-code@${claudeVersion}`, npm.seconds))
    const verdict = (ratio: number, target: number): string =>
      `${ratio.toFixed(3)} (target <= ${target}: ${ratio <= target ? 'met' : 'MISSED'})`
    console.log(`  warm / npm    = ${verdict(ratioWarm, TARGET_WARM)}`)
    console.log(`  present / npm = ${verdict(ratioPresent, TARGET_PRESENT)}`)
    console.log(`  warm / cold build = ${(warm.seconds / build.seconds).toFixed(3)}`)
  } finally {
    process.stdout.write = stdoutWrite
    for (const ref of [imageRef, privateBase, ...stageIds]) {
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
