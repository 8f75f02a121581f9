/**
 * The released agent image, pulled by digest instead of built (issue 23). When the inputs ask for
 * exactly the bundled image and `prebuilt-image` is `auto`, a cache miss pulls
 * `repository@digest` for the runner's platform from docker/prebuilt.json, provided the record was
 * made from the docker/ files beside it; the image is then cached like a built one. Its digest is
 * its whole content, so its cache key is the digest (no base image to resolve: a warm start from
 * this entry needs no registry at all). A pull that fails builds instead, with one notice.
 */
import { docker, inspectImage, lastLines } from '../docker.js'
import { errorMessage } from '../errors.js'
import type { ImageSettings } from '../settings.js'
import { prebuiltImageCacheKey } from './cache-key.js'
import { CLI_CONTAINER_PATH, CLI_MOUNT_LABEL, type CliPlatform } from './cli-binary.js'
import { imageSourceDigest, prebuiltReference, readPrebuiltRecord } from './prebuilt-record.js'

/** Build arguments that leave the bundled image as it is: the CLI's version and its fetcher. */
const IMAGE_NEUTRAL_BUILD_ARGS = new Set(['CLAUDE_CODE_VERSION', 'BUILDER_IMAGE'])

/** A pull of a few hundred MB takes seconds to a minute; a network policy may hang it. */
const PULL_TIMEOUT_MS = 10 * 60_000

export interface PrebuiltCandidate {
  /** `repository@sha256:…` */
  reference: string
  digest: string
  /** `linux/amd64` */
  platform: string
  version: string
  /** Its Actions cache key (prebuiltImageCacheKey). */
  key: string
}

export type PrebuiltChoice =
  | { candidate: PrebuiltCandidate }
  /** Why not; `notice` when the user would expect a pull (the inputs fit) and should hear why. */
  | { skip: string; notice?: boolean }

/** What in the inputs changes the bundled image; empty when they ask for exactly it. */
export function imageChangingInputs(settings: ImageSettings): string[] {
  const changes: string[] = []
  if (settings.image) changes.push('image')
  if (!settings.bundledDockerfile) changes.push('dockerfile')
  if (settings.baseImage) changes.push('base-image')
  if (settings.extraPackages.length > 0) changes.push('extra-packages')
  for (const name of Object.keys(settings.buildArgs).sort())
    if (!IMAGE_NEUTRAL_BUILD_ARGS.has(name)) changes.push(`build-args ${name}`)
  return changes
}

/** The registry's name for the runner's platform (RUNNER_ARCH or Node's arch). */
export function dockerPlatform(platform: CliPlatform): string | undefined {
  const arch = platform.arch.toLowerCase()
  const os = platform.os.toLowerCase()
  if (os !== 'linux') return undefined
  if (arch === 'x64' || arch === 'amd64') return 'linux/amd64'
  if (arch === 'arm64' || arch === 'aarch64') return 'linux/arm64'
  return undefined
}

/** Whether to pull, and what; reads docker/prebuilt.json and digests the docker/ files. */
export function choosePrebuilt(
  settings: ImageSettings,
  dockerDir: string,
  platform: CliPlatform
): PrebuiltChoice {
  if (settings.prebuiltImage === 'never') return { skip: 'prebuilt-image: never' }
  const changes = imageChangingInputs(settings)
  if (changes.length > 0) return { skip: `the inputs change the image (${changes.join(', ')})` }
  let record
  try {
    record = readPrebuiltRecord(dockerDir)
  } catch (error: unknown) {
    return { skip: `its record is unreadable (${errorMessage(error)})`, notice: true }
  }
  if (!record) return { skip: 'this version of the action records no released image' }
  const source = imageSourceDigest(dockerDir)
  if (record.sourceDigest !== source) {
    return {
      skip: `the recorded image (release ${record.version}) was built from other docker/ files than this action's`,
      notice: true
    }
  }
  const name = dockerPlatform(platform)
  const reference = name ? prebuiltReference(record, name) : undefined
  const digest = name ? record.platforms[name] : undefined
  if (!name || !reference || !digest) {
    return {
      skip: `release ${record.version} has no image for ${name ?? `${platform.os}/${platform.arch}`}`
    }
  }
  return {
    candidate: {
      reference,
      digest,
      platform: name,
      version: record.version,
      key: prebuiltImageCacheKey(platform.os, platform.arch, digest)
    }
  }
}

export type PullResult = { ok: true; id: string } | { ok: false; reason: string }

/**
 * Pulls the candidate by digest and tags it `tag` (so docker save keeps a name and the next run
 * finds it). The image must be the bundled Dockerfile's output: it carries the label that asks
 * for the CLI to be mounted, or it is not used. Never throws.
 */
export async function pullPrebuilt(
  candidate: PrebuiltCandidate,
  tag: string,
  log: { info(message: string): void }
): Promise<PullResult> {
  log.info(
    `Pulling the prebuilt agent image ${candidate.reference} (release ${candidate.version}, ${candidate.platform})`
  )
  try {
    const pull = await docker(['pull', '--quiet', candidate.reference], {
      timeoutMs: PULL_TIMEOUT_MS
    })
    if (pull.exitCode !== 0)
      return { ok: false, reason: lastLines(pull.stderr, 1) || 'docker pull failed' }
    // From the Engine API when it is ours to use: a `docker` process took 0.09-0.30 s here.
    const pulled = await inspectImage(candidate.reference)
    const id = pulled?.id
    const mount = pulled?.labels[CLI_MOUNT_LABEL]
    if (id === undefined || !/^sha256:[0-9a-f]{64}$/.test(id))
      return { ok: false, reason: 'the pulled image could not be inspected' }
    if (mount !== CLI_CONTAINER_PATH) {
      await docker(['image', 'rm', candidate.reference])
      return { ok: false, reason: `it does not carry the label ${CLI_MOUNT_LABEL}` }
    }
    const tagged = await docker(['tag', candidate.reference, tag])
    if (tagged.exitCode !== 0)
      return { ok: false, reason: `docker tag failed: ${lastLines(tagged.stderr, 1)}` }
    return { ok: true, id }
  } catch (error: unknown) {
    return { ok: false, reason: errorMessage(error) }
  }
}

/** The one notice a failed or unusable prebuilt image gets. */
export function prebuiltFallbackNotice(what: string, reason: string): string {
  return `The prebuilt agent image ${what} could not be used (${reason}): building it from the bundled Dockerfile instead. Set prebuilt-image: never to always build.`
}
