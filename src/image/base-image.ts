import { docker, imageId, lastLines } from '../docker.js'
import { ConfigurationError } from '../errors.js'
import type { BuildLog } from './build.js'

/** A base image as the build uses it and as the cache key records it. */
export interface ResolvedBase {
  /** What the build's FROM gets: pinned to the digest when the registry gave one. */
  fromRef: string
  /** What identifies its content: `name@sha256:…` (registry) or `local@sha256:…` (image id). */
  identity: string
  /** Where the identity came from, for the log. */
  via: 'reference' | 'registry' | 'local' | 'pull'
}

/**
 * The base image is neither on this runner nor reachable (a registry outage, a rate limit, a
 * typo). A ConfigurationError like any other, but its own class: a runner with a cached image
 * for the same inputs carries on from the cache instead (warm-fallback.ts).
 */
export class BaseImageUnavailableError extends ConfigurationError {
  constructor(
    readonly ref: string,
    /** docker pull's last line. */
    readonly reason: string,
    what: string
  ) {
    super(
      `The base image ${ref} (${what}) is not on this runner and could not be pulled (${reason})`,
      'Check the image name, or log in to its registry (docker/login-action) before this step'
    )
    this.name = 'BaseImageUnavailableError'
  }
}

const DIGEST = /@(sha256:[0-9a-f]{64})$/

/** The reference without its digest part (a tag may stay: `node:22@sha256:…` is valid). */
function withoutDigest(ref: string): string {
  return ref.replace(DIGEST, '')
}

/** The manifest digest the registry gives for `ref`, without pulling (buildx only). */
async function registryDigest(ref: string): Promise<string | undefined> {
  const result = await docker([
    'buildx',
    'imagetools',
    'inspect',
    '--format',
    '{{json .Manifest}}',
    ref
  ])
  if (result.exitCode !== 0) return undefined
  try {
    const digest = (JSON.parse(result.stdout) as { digest?: unknown }).digest
    return typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined
  } catch {
    return undefined
  }
}

async function localId(ref: string): Promise<string | undefined> {
  const id = await imageId(ref)
  return id !== undefined && /^sha256:[0-9a-f]{64}$/.test(id) ? id : undefined
}

/**
 * Pins a base image to its content, so the cache key covers the base's digest and the build
 * uses exactly that content:
 * - a reference with `@sha256:…` is its own identity;
 * - otherwise the registry's digest for the tag, asked without pulling (`buildx imagetools`),
 *   and the build gets `name@digest`;
 * - otherwise (no buildx, an image that is only on this machine, no registry) the local image's
 *   id, pulling it first when it is not here.
 * A base that is neither here nor pullable is the user's mistake: one clear error. With
 * `pull: false` (a check off the start path, present-image.ts) a base that is not here is not
 * pulled: the same error.
 */
export async function resolveBaseImage(
  ref: string,
  what: string,
  log: BuildLog,
  options: { pull?: boolean } = {}
): Promise<ResolvedBase> {
  const pinned = DIGEST.exec(ref)?.[1]
  if (pinned) return { fromRef: ref, identity: `${withoutDigest(ref)}@${pinned}`, via: 'reference' }
  const remote = await registryDigest(ref)
  if (remote) return { fromRef: `${ref}@${remote}`, identity: `${ref}@${remote}`, via: 'registry' }
  const here = await localId(ref)
  if (here) return { fromRef: ref, identity: `local@${here}`, via: 'local' }
  if (options.pull === false) throw new BaseImageUnavailableError(ref, 'not pulled', what)
  log.info(`Pulling the base image ${ref}`)
  const pull = await docker(['pull', ref])
  const pulled = pull.exitCode === 0 ? await localId(ref) : undefined
  if (!pulled) {
    throw new BaseImageUnavailableError(
      ref,
      lastLines(pull.stderr, 1) || 'docker pull failed',
      what
    )
  }
  return { fromRef: ref, identity: `local@${pulled}`, via: 'pull' }
}
