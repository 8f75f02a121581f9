/**
 * The bundled image found on this runner by its inputs alone, before the base image's digest is
 * known (issue 22). The image's own tag carries its whole cache key, whose last part is the
 * base's digest: finding it by that tag means asking the base's registry first (`buildx
 * imagetools inspect`, 0.35-0.65 s here), on the path to the agent's first request. So an image
 * whose base was checked when it was built or restored also gets an "inputs tag": the key's
 * prefix (the same inputs, the same base reference, see imageCacheKeyPrefix). A run finds it by
 * that tag and starts at once; the base's digest is asked afterwards, off the start path, and if
 * the reference has moved to other content the inputs tag is taken off the image: the run after
 * builds on the new base (or restores an entry built on it). So a changed base digest is picked up
 * by the next run on the same runner; a fresh runner (every GitHub-hosted job) has no image to
 * find and always asks.
 */
import { docker, imageId } from '../docker.js'
import type { Logger } from './cache.js'

/** The tag of the newest checked image for a key prefix (it ends in `-`). */
export function inputsTag(keyPrefix: string): string {
  const inputs = keyPrefix.replace(/^claude-sandbox-image-/, '')
  return `claude-sandbox-agent:${inputs}inputs`.toLowerCase()
}

/** The image holding the inputs tag, if there is one here. */
export async function presentByInputs(tag: string): Promise<string | undefined> {
  return imageId(tag)
}

/**
 * Gives an image whose base was just checked (built on it, or restored from the entry of its
 * exact key, or found by that key) the inputs tag. Never throws: without it, the next run only
 * asks the registry first, as before.
 */
export async function tagAsChecked(imageRef: string, tag: string): Promise<void> {
  await docker(['tag', imageRef, tag]).catch(() => undefined)
}

/** How long after the start the base is checked: after the agent's first request, not before. */
export const RECHECK_DELAY_MS = 5_000

/**
 * Asks for the base's current key after RECHECK_DELAY_MS (off the start path: the container and
 * the CLI start first) and, when the image under the inputs tag is not the one that key names,
 * takes the tag off (the image keeps its key's tag). An unreachable registry changes nothing. The
 * delay's timer does not keep the process alive: a run that ends first leaves the check to the next.
 * Never rejects.
 */
export function recheckBaseLater(opts: {
  tag: string
  id: string
  baseRef: string
  /** The image tag the base's current content gives (its exact key's), or undefined offline. */
  currentTag: () => Promise<string | undefined>
  log: Logger
  delayMs?: number
}): Promise<void> {
  return new Promise<void>(resolve => {
    const timer = setTimeout(() => {
      recheck(opts).then(resolve, () => resolve())
    }, opts.delayMs ?? RECHECK_DELAY_MS)
    timer.unref()
  })
}

async function recheck(opts: {
  tag: string
  id: string
  baseRef: string
  currentTag: () => Promise<string | undefined>
  log: Logger
}): Promise<void> {
  const current = await opts.currentTag()
  if (current === undefined) return
  if ((await imageId(current)) === opts.id) return
  await docker(['image', 'rm', opts.tag])
  opts.log.info(
    `The base image ${opts.baseRef} has changed since the agent image on this runner was built; ` +
      'the next run builds on the new base (or restores an image built on it)'
  )
}
