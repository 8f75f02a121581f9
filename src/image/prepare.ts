import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { docker, imageId, lastLines } from '../docker.js'
import { ConfigurationError } from '../errors.js'
import type { ImageSettings } from '../settings.js'
import { buildImage, prepareBundledContext, type BuildLog } from './build.js'
import { computeImageCacheKey, readContextFiles } from './cache-key.js'
import { imageTarPath, restoreImage, saveImage } from './cache.js'

export interface PreparedImage {
  ref: string
  id: string
  cacheHit: boolean
  built: boolean
  setupMs: number
  cacheKey?: string
}

/** Resolves `${VAR}` in the Dockerfile's FROM lines from build args, then ARG defaults. */
export function baseImageRefs(dockerfile: string, buildArgs: Record<string, string>): string[] {
  const defaults: Record<string, string> = {}
  const refs: string[] = []
  for (const raw of dockerfile.split('\n')) {
    const line = raw.trim()
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S*)/i.exec(line)
    if (arg?.[1] !== undefined && arg[2] !== undefined)
      defaults[arg[1]] = arg[2].replace(/^["']|["']$/g, '')
    const from = /^FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line)
    if (from?.[1] !== undefined) {
      refs.push(
        from[1].replace(
          /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
          (_m, name: string) => buildArgs[name] ?? defaults[name] ?? ''
        )
      )
    }
  }
  return refs
}

/** Build arguments the bundled Dockerfile takes, with the action's own on top of the user's. */
export function effectiveBuildArgs(
  settings: ImageSettings,
  claudeCodeVersion: string
): Record<string, string> {
  const args: Record<string, string> = { ...settings.buildArgs }
  args.CLAUDE_CODE_VERSION = claudeCodeVersion
  if (settings.extraPackages.length > 0) args.EXTRA_PACKAGES = settings.extraPackages.join(' ')
  return args
}

/**
 * Gets the agent image: a prebuilt `image` as given; otherwise the cached build when the cache
 * holds one for this exact definition; otherwise a fresh build, saved to the cache at once so a
 * later failure does not lose it.
 */
export async function prepareImage(
  settings: ImageSettings,
  claudeCodeVersion: string,
  workDir: string,
  actionDockerDir: string,
  log: BuildLog
): Promise<PreparedImage> {
  const started = Date.now()
  if (settings.image) {
    let id = await imageId(settings.image)
    if (!id) {
      log.info(`Pulling ${settings.image}`)
      const pull = await docker(['pull', settings.image])
      if (pull.exitCode !== 0) {
        throw new ConfigurationError(
          `The image ${settings.image} is not on this runner and could not be pulled (${lastLines(pull.stderr, 1)})`,
          'Check the `image` input, or log in to its registry (docker/login-action) first'
        )
      }
      id = await imageId(settings.image)
    }
    return {
      ref: settings.image,
      id: id ?? '',
      cacheHit: false,
      built: false,
      setupMs: Date.now() - started
    }
  }

  const buildArgs = effectiveBuildArgs(settings, claudeCodeVersion)
  const context = settings.bundledDockerfile
    ? prepareBundledContext(actionDockerDir, workDir, settings.caCertificates)
    : path.dirname(settings.dockerfile)
  const dockerfile = settings.bundledDockerfile
    ? path.join(context, 'Dockerfile.agent')
    : settings.dockerfile
  const dockerfileText = readFileSync(dockerfile, 'utf8')
  const caSha = settings.caCertificates
    ? createHash('sha256').update(readFileSync(settings.caCertificates)).digest('hex')
    : ''
  const key = computeImageCacheKey({
    os: process.env.RUNNER_OS ?? os.platform(),
    arch: process.env.RUNNER_ARCH ?? os.arch(),
    dockerfileContent: dockerfileText,
    // The CA bundle is in the bundled context; it is already in the key by its hash.
    contextFiles: (await readContextFiles(context)).filter(file => file.path !== 'sandbox-ca.pem'),
    buildArgs,
    extraPackages: settings.extraPackages,
    claudeCodeVersion,
    caBundleSha256: caSha,
    baseImageRefs: baseImageRefs(dockerfileText, buildArgs)
  })
  // The tag carries the key, so an image already on this runner is found without any restore.
  const tag =
    `claude-sandbox-agent:${key.replace(/^claude-sandbox-image-/, '').slice(-60)}`.toLowerCase()
  const present = await imageId(tag)
  if (present) {
    log.info(`The agent image ${tag} is already on this runner`)
    return {
      ref: tag,
      id: present,
      cacheHit: false,
      built: false,
      setupMs: Date.now() - started,
      cacheKey: key
    }
  }

  const tarPath = imageTarPath()
  const cacheLog = { info: log.info, warning: log.warning }
  if (settings.cache) {
    const restored = await restoreImage({ key, tarPath, log: cacheLog })
    if (restored.hit) {
      // docker save kept the tag, so the loaded image answers to it; its id if the tag is missing.
      const tagged = await imageId(tag)
      const id = tagged ?? restored.imageId ?? ''
      log.info(`Restored the agent image from the cache (key ${key})`)
      return {
        ref: tagged ? tag : id,
        id,
        cacheHit: true,
        built: false,
        setupMs: Date.now() - started,
        cacheKey: key
      }
    }
  }

  const id = await buildImage(
    {
      dockerfile,
      context,
      tag,
      buildArgs: {
        ...buildArgs,
        BUILD_DATE: new Date().toISOString(),
        VCS_REF: process.env.GITHUB_ACTION_REF || 'local'
      },
      iidFile: path.join(workDir, 'image.iid'),
      caSecretFile: settings.bundledDockerfile ? undefined : settings.caCertificates
    },
    log
  )
  if (settings.cache) await saveImage({ key, imageRef: tag, tarPath, log: cacheLog })
  return {
    ref: tag,
    id,
    cacheHit: false,
    built: true,
    setupMs: Date.now() - started,
    cacheKey: key
  }
}
