/**
 * The warm path without a registry (issue 22). The bundled image's cache key covers the base
 * image's digest, which only the base's registry can tell. When the registry cannot be reached
 * (an outage, a rate limit) and the base is not on this runner, a runner whose Actions cache
 * holds an image for the same inputs and the same base reference starts from the newest such
 * entry, says in one warning which base digest it was built on, and carries on. The next run
 * that reaches the registry computes the exact key again: the same digest hits the same entry, a
 * newer one misses, builds and stores a fresh entry.
 */
import { docker } from '../docker.js'
import type { BaseImageUnavailableError, ResolvedBase } from './base-image.js'
import { loadImageTarball, type Logger } from './cache.js'

/** OCI's labels for the image a build started from: the warning names them. */
export const BASE_NAME_LABEL = 'org.opencontainers.image.base.name'
export const BASE_DIGEST_LABEL = 'org.opencontainers.image.base.digest'

/** The labels a build of the bundled image gets: the base as asked, and the digest it had. */
export function baseLabels(ref: string, base: ResolvedBase): Record<string, string> {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(base.identity)?.[1] ?? ''
  // A base known only by its local image id (no buildx, or an image only on this runner): the
  // digest label then holds that id, and the name says so.
  const name = base.identity.startsWith('local@') ? `${ref} (local image id)` : ref
  return { [BASE_NAME_LABEL]: name, [BASE_DIGEST_LABEL]: digest }
}

export interface OlderBaseImage {
  id: string
  ref: string
  cacheHit: true
  matchedKey: string
}

/**
 * Loads the newest cached agent image whose key starts with the inputs' prefix (the same inputs
 * and base reference, any base digest), restored beside the failed digest lookup (prepare.ts),
 * and says in one warning which base digest it was built on. Undefined when it cannot be loaded;
 * the caller then fails with the base's own error: only a cold start needs the registry.
 */
export async function loadFromOlderBase(opts: {
  tarball: { matchedKey: string; tarPath: string; restoreMs: number }
  baseRef: string
  unavailable: BaseImageUnavailableError
  log: Logger
}): Promise<OlderBaseImage | undefined> {
  const { tarball, baseRef, unavailable, log } = opts
  const restored = await loadImageTarball(tarball, log)
  if (!restored.hit || !restored.imageId) return undefined
  const inspected = await docker([
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${BASE_NAME_LABEL}"}}|{{index .Config.Labels "${BASE_DIGEST_LABEL}"}}`,
    restored.imageId
  ])
  const [name = '', digest = ''] = inspected.stdout.trim().split('|')
  const builtOn = digest ? `${name || baseRef} at ${digest}` : 'a base digest it does not record'
  log.warning(
    `The base image ${baseRef} could not be reached (${unavailable.reason}): starting from the ` +
      `newest cached agent image for these inputs, built on ${builtOn}. The next run that ` +
      'reaches the registry checks for a newer base and refreshes the cache entry.'
  )
  return {
    id: restored.imageId,
    ref: restored.imageId,
    cacheHit: true,
    matchedKey: restored.matchedKey ?? tarball.matchedKey
  }
}
