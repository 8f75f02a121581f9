/**
 * The release's agent image: build docker/Dockerfile.agent, push it, read back the digest of each
 * platform's image manifest from the registry, and write docker/prebuilt.json (the record the
 * action pulls by). The release workflow builds and pushes with docker/build-push-action (the
 * same arguments as releaseBuildxArgs below, for both platforms, with an SBOM and max-mode
 * provenance) and then runs `record`; `build` is the same path for one platform with a local
 * builder, which is how the tests drive it against a local registry.
 *
 *   npx tsx scripts/release-image.ts build  --repository R --version V [--docker-dir D]
 *       [--platform P]... [--build-arg K=V]... [--attestations] [--record-dir D]
 *   npx tsx scripts/release-image.ts record --reference R@sha256:... --repository R --version V
 *       [--docker-dir D] [--record-dir D]
 *   npx tsx scripts/release-image.ts check [--docker-dir D]   (the record agrees with docker/)
 *
 * `--record-dir` is where prebuilt.json is written (default: the docker directory itself); the
 * record's sourceDigest is always computed from `--docker-dir`, the files the image was built from.
 *
 * Multi-platform builds need buildx's docker-container driver (QEMU for the foreign platform); with
 * the default `docker` driver, or without buildx at all, `build` takes one platform, and without
 * buildx it falls back to `docker build` + `docker push` + `docker inspect` (RepoDigests).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  imageSourceDigest,
  parsePrebuiltRecord,
  PREBUILT_RECORD_FILE,
  writePrebuiltRecord,
  type PrebuiltRecord
} from '../src/image/prebuilt-record.js'

/** The platforms the release publishes (the arm64 one for ARM runners). */
export const RELEASE_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const

export const RELEASE_DOCKERFILE = 'Dockerfile.agent'

const VERSION = /^\d+\.\d+\.\d+$/
const DIGEST = /^sha256:[0-9a-f]{64}$/

export interface ReleaseBuild {
  /** docker/ of the tree being released: the build context and the Dockerfile's directory. */
  dockerDir: string
  /** Where the image is pushed, without tag: `ghcr.io/<owner>/<repo>/agent`. */
  repository: string
  /** The release's version, `1.2.3`: the pushed tag. */
  version: string
  platforms: readonly string[]
  /** Build arguments beyond the Dockerfile's defaults (the release passes only labels). */
  buildArgs: Record<string, string>
  /** SBOM and max-mode provenance attached to the pushed image (needs a builder that makes them). */
  attestations: boolean
  /** buildx's --metadata-file. */
  metadataFile: string
}

/** `docker buildx build` argv that builds `platforms` and pushes them under one tag. */
export function releaseBuildxArgs(build: ReleaseBuild): string[] {
  if (!VERSION.test(build.version))
    throw new Error(`release version must be MAJOR.MINOR.PATCH, got "${build.version}"`)
  if (build.platforms.length === 0) throw new Error('release build: no platform given')
  const args = ['buildx', 'build', '--progress=plain']
  args.push('--file', path.join(build.dockerDir, RELEASE_DOCKERFILE))
  args.push('--platform', build.platforms.join(','))
  args.push('--tag', `${build.repository}:${build.version}`)
  for (const [key, value] of Object.entries(build.buildArgs))
    args.push('--build-arg', `${key}=${value}`)
  // Explicit both ways: buildx's defaults differ by driver and version.
  if (build.attestations) args.push('--sbom=true', '--provenance=mode=max')
  else args.push('--sbom=false', '--provenance=false')
  args.push('--metadata-file', build.metadataFile, '--push', build.dockerDir)
  return args
}

/** Classic builder argv (run with DOCKER_BUILDKIT=0): one platform, the daemon's own. */
export function releaseClassicArgs(build: Omit<ReleaseBuild, 'metadataFile'>): string[] {
  const args = ['build', '--force-rm', '--file', path.join(build.dockerDir, RELEASE_DOCKERFILE)]
  args.push('--tag', `${build.repository}:${build.version}`)
  for (const [key, value] of Object.entries(build.buildArgs))
    args.push('--build-arg', `${key}=${value}`)
  args.push(build.dockerDir)
  return args
}

/** `linux/arm64`, as the action names its runner's platform (arm64's `v8` variant is implied). */
function platformName(os: string, architecture: string, variant: string | undefined): string {
  const implied = !variant || (architecture === 'arm64' && variant === 'v8')
  return implied ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`
}

/** One entry of an OCI image index / Docker manifest list. */
interface IndexEntry {
  mediaType?: string
  digest?: string
  platform?: { os?: string; architecture?: string; variant?: string }
  annotations?: Record<string, string>
}

/**
 * Platform -> image manifest digest, from the raw manifest the registry serves for the pushed
 * reference. An index maps each platform to its entry (attestation manifests, platform
 * `unknown/unknown`, are not images and are left out); a single image manifest is the one
 * platform that was built, and its digest is the digest of the bytes themselves.
 */
export function platformDigests(
  raw: string,
  builtPlatforms: readonly string[]
): Record<string, string> {
  const manifest = JSON.parse(raw) as {
    mediaType?: string
    manifests?: IndexEntry[]
    config?: unknown
  }
  if (Array.isArray(manifest.manifests)) {
    const result: Record<string, string> = {}
    for (const entry of manifest.manifests) {
      const p = entry.platform
      if (!p?.os || !p.architecture || p.os === 'unknown') continue
      if (entry.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue
      if (!entry.digest || !DIGEST.test(entry.digest)) continue
      result[platformName(p.os, p.architecture, p.variant)] = entry.digest
    }
    return result
  }
  if (manifest.config === undefined)
    throw new Error('the registry answered with neither an image index nor an image manifest')
  if (builtPlatforms.length !== 1)
    throw new Error(`one image manifest was pushed for ${builtPlatforms.length} platforms`)
  return {
    [builtPlatforms[0] as string]: `sha256:${createHash('sha256').update(raw).digest('hex')}`
  }
}

/** The record for a pushed release, tied to the docker/ files it was built from. */
export function releaseRecord(
  dockerDir: string,
  repository: string,
  version: string,
  platforms: Record<string, string>
): PrebuiltRecord {
  if (Object.keys(platforms).length === 0) throw new Error('release record: no platform digest')
  const sorted: Record<string, string> = {}
  for (const key of Object.keys(platforms).sort()) sorted[key] = platforms[key] as string
  return { repository, version, sourceDigest: imageSourceDigest(dockerDir), platforms: sorted }
}

/**
 * Why docker/prebuilt.json does not fit the files beside it (empty when it does): a released
 * record must name every release platform and have been built from exactly these files (its
 * sourceDigest); an unreleased tree has the placeholder (no platforms, no sourceDigest).
 */
export function recordProblems(dockerDir: string): string[] {
  let record: PrebuiltRecord
  try {
    record = parsePrebuiltRecord(readFileSync(path.join(dockerDir, PREBUILT_RECORD_FILE), 'utf8'))
  } catch (error: unknown) {
    return [`${PREBUILT_RECORD_FILE}: ${error instanceof Error ? error.message : String(error)}`]
  }
  if (Object.keys(record.platforms).length === 0) {
    return record.sourceDigest === ''
      ? []
      : ['an unreleased record (no platforms) must have an empty sourceDigest']
  }
  const problems: string[] = []
  const actual = imageSourceDigest(dockerDir)
  if (record.sourceDigest !== actual)
    problems.push(
      `the record was built from other docker/ files (sourceDigest ${record.sourceDigest}, these files ${actual})`
    )
  for (const platform of RELEASE_PLATFORMS)
    if (!record.platforms[platform]) problems.push(`the record has no ${platform} digest`)
  if (!VERSION.test(record.version))
    problems.push(`the record's version "${record.version}" is not X.Y.Z`)
  return problems
}

// ---------------------------------------------------------------------------------------------
// Effects: docker.

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise(resolve => {
    execFile(command, args, { env, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

async function must(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await run(command, args, env)
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-5).join('\n')
    throw new Error(
      `${command} ${args.slice(0, 3).join(' ')} ... failed (exit ${result.code}):\n${tail}`
    )
  }
  return result.stdout
}

export async function hasBuildx(): Promise<boolean> {
  return (await run('docker', ['buildx', 'version'])).code === 0
}

/** The raw manifest the registry serves for `reference` (`repo:tag` or `repo@digest`). */
export async function rawManifest(reference: string): Promise<string> {
  return must('docker', ['buildx', 'imagetools', 'inspect', '--raw', reference])
}

/** Platform digests of a pushed reference, read back from the registry. */
export async function pushedDigests(
  reference: string,
  builtPlatforms: readonly string[]
): Promise<Record<string, string>> {
  return platformDigests(await rawManifest(reference), builtPlatforms)
}

export interface BuildResult {
  builder: 'buildx' | 'classic'
  record: PrebuiltRecord
}

/**
 * Builds and pushes the release image, reads its digests back from the registry and writes the
 * record into `recordDir`. With buildx the digests are read with `imagetools inspect`; without
 * it, from the pushed image's RepoDigests (one platform: the daemon's own).
 */
export async function buildAndRecord(
  build: Omit<ReleaseBuild, 'metadataFile'>,
  recordDir: string,
  log: (line: string) => void = line => console.log(line),
  /** `auto`: buildx where installed, else the classic builder. */
  builderChoice: 'auto' | BuildResult['builder'] = 'auto'
): Promise<BuildResult> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'release-image-'))
  try {
    let platforms: Record<string, string>
    let builder: BuildResult['builder']
    const tagged = `${build.repository}:${build.version}`
    const useBuildx = builderChoice === 'auto' ? await hasBuildx() : builderChoice === 'buildx'
    if (useBuildx) {
      builder = 'buildx'
      const metadataFile = path.join(scratch, 'metadata.json')
      const args = releaseBuildxArgs({ ...build, metadataFile })
      log(`docker ${args.join(' ')}`)
      await must('docker', args)
      const metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>
      log(`buildx metadata: containerimage.digest=${String(metadata['containerimage.digest'])}`)
      // Read back by tag right after the push: with the docker driver the metadata's digest is
      // the daemon's image, not the manifest the registry stores, so the registry is asked.
      platforms = await pushedDigests(tagged, build.platforms)
    } else {
      builder = 'classic'
      if (build.platforms.length !== 1)
        throw new Error('without buildx only one platform (the daemon’s own) can be built')
      const args = releaseClassicArgs(build)
      log(`docker ${args.join(' ')} (DOCKER_BUILDKIT=0)`)
      await must('docker', args, { ...process.env, DOCKER_BUILDKIT: '0' })
      await must('docker', ['push', tagged])
      const digests = await must('docker', [
        'image',
        'inspect',
        '--format',
        '{{range .RepoDigests}}{{println .}}{{end}}',
        tagged
      ])
      const ours = digests
        .split('\n')
        .map(line => line.trim())
        .find(line => line.startsWith(`${build.repository}@`))
      const digest = ours?.slice(build.repository.length + 1)
      if (!digest || !DIGEST.test(digest)) throw new Error(`no pushed digest for ${tagged}`)
      platforms = { [build.platforms[0] as string]: digest }
    }
    const record = releaseRecord(build.dockerDir, build.repository, build.version, platforms)
    mkdirSync(recordDir, { recursive: true })
    writePrebuiltRecord(recordDir, record)
    log(`recorded ${JSON.stringify(record.platforms)} in ${path.join(recordDir, 'prebuilt.json')}`)
    return { builder, record }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

/** The record for an already pushed multi-platform reference (the workflow's build-push-action). */
export async function recordPushed(
  reference: string,
  dockerDir: string,
  repository: string,
  version: string,
  recordDir: string
): Promise<PrebuiltRecord> {
  const platforms = await pushedDigests(reference, RELEASE_PLATFORMS)
  for (const wanted of RELEASE_PLATFORMS)
    if (!platforms[wanted]) throw new Error(`${reference} has no ${wanted} image`)
  const record = releaseRecord(dockerDir, repository, version, platforms)
  mkdirSync(recordDir, { recursive: true })
  writePrebuiltRecord(recordDir, record)
  return record
}

// ---------------------------------------------------------------------------------------------
// Command line.

export function parseOptions(argv: string[]): { command: string; values: Map<string, string[]> } {
  const [command = '', ...rest] = argv
  const values = new Map<string, string[]>()
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string
    if (!flag.startsWith('--')) throw new Error(`unexpected argument "${flag}"`)
    const name = flag.slice(2)
    if (name === 'attestations') {
      values.set(name, ['true'])
      continue
    }
    const value = rest[++i]
    if (value === undefined) throw new Error(`${flag} needs a value`)
    values.set(name, [...(values.get(name) ?? []), value])
  }
  return { command, values }
}

const DEFAULT_DOCKER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docker')

async function main(argv: string[]): Promise<void> {
  const { command, values } = parseOptions(argv)
  const one = (name: string, fallback?: string): string => {
    const value = values.get(name)?.at(-1) ?? fallback
    if (value === undefined) throw new Error(`--${name} is required`)
    return value
  }
  const dockerDir = path.resolve(one('docker-dir', DEFAULT_DOCKER_DIR))
  const recordDir = path.resolve(one('record-dir', dockerDir))
  if (command === 'check') {
    const problems = recordProblems(dockerDir)
    if (problems.length > 0) throw new Error(`docker/prebuilt.json: ${problems.join('; ')}`)
    console.log(`${path.join(dockerDir, PREBUILT_RECORD_FILE)} agrees with the files beside it`)
    return
  }
  const repository = one('repository')
  const version = one('version')
  if (command === 'build') {
    const buildArgs: Record<string, string> = {}
    for (const pair of values.get('build-arg') ?? []) {
      const at = pair.indexOf('=')
      if (at <= 0) throw new Error(`--build-arg wants KEY=VALUE, got "${pair}"`)
      buildArgs[pair.slice(0, at)] = pair.slice(at + 1)
    }
    await buildAndRecord(
      {
        dockerDir,
        repository,
        version,
        platforms: values.get('platform') ?? [...RELEASE_PLATFORMS],
        buildArgs,
        attestations: values.has('attestations')
      },
      recordDir
    )
  } else if (command === 'record') {
    const record = await recordPushed(one('reference'), dockerDir, repository, version, recordDir)
    console.log(JSON.stringify(record, null, 2))
  } else {
    throw new Error(`unknown command "${command}" (build, record or check)`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.log(`::error::${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  })
}
