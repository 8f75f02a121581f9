/**
 * The Actions cache client (`@actions/cache`), loaded on its first restore or save. With the
 * Azure storage library under it, it is the largest part of the bundle, and most runs never
 * call it (the image and the CLI already on the runner, or `cache: false`): parsed up front, it
 * was a third of the time from the action's start to the CLI's first request (issue 22). Same
 * names and signatures as the package, so a module uses it as `import * as cache from ...`.
 */
import type * as ActionsCache from '@actions/cache'

type Cache = typeof ActionsCache

let loaded: Promise<Cache> | undefined

function load(): Promise<Cache> {
  loaded ??= import('@actions/cache')
  return loaded
}

/**
 * Whether the cache service is configured here, without loading the client: the same test as
 * the package's own `isFeatureAvailable` (v2 needs ACTIONS_RESULTS_URL, v1 ACTIONS_CACHE_URL;
 * v2 is never used on GitHub Enterprise Server). A unit test holds the two to the same answers.
 */
export function isFeatureAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const v2 = Boolean(env.ACTIONS_CACHE_SERVICE_V2) && !isGhes(env)
  return v2 ? Boolean(env.ACTIONS_RESULTS_URL) : Boolean(env.ACTIONS_CACHE_URL)
}

function isGhes(env: NodeJS.ProcessEnv): boolean {
  let hostname: string
  try {
    hostname = new URL(env.GITHUB_SERVER_URL || 'https://github.com').hostname
      .trimEnd()
      .toUpperCase()
  } catch {
    // The package throws on a malformed URL; a service we cannot place is not v2's.
    return true
  }
  return !(
    hostname === 'GITHUB.COM' ||
    hostname.endsWith('.GHE.COM') ||
    hostname.endsWith('.LOCALHOST')
  )
}

export async function restoreCache(
  ...args: Parameters<Cache['restoreCache']>
): ReturnType<Cache['restoreCache']> {
  return (await load()).restoreCache(...args)
}

export async function saveCache(
  ...args: Parameters<Cache['saveCache']>
): ReturnType<Cache['saveCache']> {
  return (await load()).saveCache(...args)
}
