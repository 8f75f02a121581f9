import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { docker, imageId, lastLines } from '../docker.js'
import { ConfigurationError } from '../errors.js'
import type { ImageSettings } from '../settings.js'
import { BaseImageUnavailableError, resolveBaseImage, type ResolvedBase } from './base-image.js'
import { buildImage, prepareBundledContext, type BuildLog } from './build.js'
import { computeImageCacheKey, imageCacheKeyPrefix, readContextFiles } from './cache-key.js'
import {
  imageTarPath,
  loadImageTarball,
  removeImageTarball,
  restoreCliBinary,
  restoreImage,
  restoreImageTarball,
  saveCliBinary,
  saveImage,
  type Logger,
  type RestoredTarball
} from './cache.js'
import {
  CLI_CONTAINER_PATH,
  CLI_MOUNT_LABEL,
  DEFAULT_BUILDER_IMAGE,
  cliBinaryPath,
  cliBinaryPresent,
  cliCacheKey,
  cliPlatform,
  fetchCliBinary,
  toolCacheRoot
} from './cli-binary.js'
import { fetchCliOnHost } from './cli-fetch-host.js'
import { fetchCliStreamed, runnerNpm } from './cli-fetch-stream.js'
import { readDevcontainerImage } from './devcontainer.js'
import {
  choosePrebuilt,
  prebuiltFallbackNotice,
  pullPrebuilt,
  type PrebuiltCandidate
} from './prebuilt.js'
import { inputsTag, presentByInputs, recheckBaseLater, tagAsChecked } from './present-image.js'
import { baseLabels, loadFromOlderBase } from './warm-fallback.js'

/** Milliseconds per phase of this set-up (`base digest`, `image restore`, `image load`, `CLI
 * restore`, `CLI fetch`, `pull`), for the log and scripts/bench-cache.ts. Phases overlap. */
export type SetupPhases = Record<string, number>

async function timed<T>(phases: SetupPhases, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await fn()
  } finally {
    phases[name] = performance.now() - started
  }
}

/** The CLI binary the container gets read-only, for images that ask for it (see cli-binary.ts). */
export interface CliMount {
  hostPath: string
  containerPath: string
  /** Where it came from on this run. */
  source: 'present' | 'cache' | 'fetched'
  cacheKey: string
}

export interface PreparedImage {
  ref: string
  id: string
  /** Whether the image came from the Actions cache (the `cache-hit` output). */
  cacheHit: boolean
  built: boolean
  /** Whether the released image was pulled by digest on this run (prebuilt.ts). */
  pulled?: boolean
  setupMs: number
  cacheKey?: string
  /** Set when the image expects the CLI mounted (label org.claude-sandbox-action.cli-mount). */
  cli?: CliMount
  /**
   * The cache saves this run started (an image built or pulled, a CLI fetched). They run while
   * the agent does, so a cold start does not wait for the uploads; they never reject, and the
   * step's process lives until they end.
   */
  saved?: Promise<void>
  /** Where the set-up's time went (phases overlap; see SetupPhases). */
  phasesMs?: SetupPhases
  /**
   * An image found by its inputs (present-image.ts): the later check of its base, which never
   * rejects and does not keep the process alive. For tests.
   */
  rechecked?: Promise<void>
}

/** What the caller knows about the run that decides the image: where the repository is, and the
 * pull request's base (the devcontainer is read from it). */
export interface ImageRunContext {
  workspace: string
  baseSha?: string
  /** The run's id: containers made while preparing carry its label, so the post step finds them. */
  runId?: string
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

/** The base image the bundled Dockerfile declares (its `ARG BASE_IMAGE=` default). */
export function dockerfileDefaultBase(dockerfile: string): string | undefined {
  return /^\s*ARG\s+BASE_IMAGE=(\S+)/m.exec(dockerfile)?.[1]?.replace(/^["']|["']$/g, '')
}

/**
 * The build arguments of the bundled Dockerfile. The CLI is not in the image, so neither its
 * version nor the builder that fetches it is a build argument (a version bump leaves the image
 * as it is). A base other than the Dockerfile's default is a project image: its layers and
 * environment are kept (LAYOUT=layered) and its files are not slimmed (SLIM=false), unless the
 * user's build-args say otherwise.
 */
export function bundledBuildArgs(
  settings: ImageSettings,
  base: string,
  projectBase: boolean
): Record<string, string> {
  const args: Record<string, string> = { ...settings.buildArgs }
  delete args.CLAUDE_CODE_VERSION
  delete args.BUILDER_IMAGE
  args.BASE_IMAGE = base
  if (projectBase) {
    args.LAYOUT ??= 'layered'
    args.SLIM ??= 'false'
  }
  if (settings.extraPackages.length > 0) args.EXTRA_PACKAGES = settings.extraPackages.join(' ')
  return args
}

/** The base asked for: `base-image` (a name, or the devcontainer's image), else BASE_IMAGE. */
async function requestedBase(
  settings: ImageSettings,
  run: ImageRunContext
): Promise<{ ref: string; what: string } | undefined> {
  if (settings.baseImage === 'devcontainer') {
    const ref = await readDevcontainerImage(run.workspace, run.baseSha)
    return { ref, what: 'the devcontainer image' }
  }
  if (settings.baseImage) return { ref: settings.baseImage, what: '`base-image`' }
  const fromArgs = settings.buildArgs.BASE_IMAGE
  return fromArgs ? { ref: fromArgs, what: 'build-args BASE_IMAGE' } : undefined
}

/** One image build, fully defined: what to build and the key that names its result. */
interface ImagePlan {
  key: string
  tag: string
  dockerfile: string
  context: string
  buildArgs: Record<string, string>
  caSecretFile?: string
  labels?: Record<string, string>
}

/**
 * The bundled image's inputs, known before its base is resolved: what finds an image of these
 * inputs on this runner or in the cache (the key's prefix), and what completes the plan once the
 * base's content is known (the key's last part).
 */
interface BundledPlan {
  /** Every entry for these inputs and this base reference starts with it (it ends in `-`). */
  prefix: string
  baseRef: string
  /** Who asked for that base, for the error that says it cannot be had. */
  what: string
  complete(base: ResolvedBase): ImagePlan
}

async function planBundled(
  settings: ImageSettings,
  workDir: string,
  actionDockerDir: string,
  run: ImageRunContext
): Promise<BundledPlan> {
  const platform = cliPlatform()
  const context = prepareBundledContext(actionDockerDir, workDir)
  const dockerfile = path.join(context, 'Dockerfile.agent')
  const dockerfileText = readFileSync(dockerfile, 'utf8')
  const asked = await requestedBase(settings, run)
  const ref = asked?.ref ?? dockerfileDefaultBase(dockerfileText) ?? 'debian:13-slim'
  const projectBase = asked !== undefined
  const ingredients: Parameters<typeof computeImageCacheKey>[0] = {
    os: platform.os,
    arch: platform.arch,
    dockerfileContent: dockerfileText,
    contextFiles: await readContextFiles(context),
    // The base as asked; its content is the key's last part (baseImageDigests), so entries
    // built on older digests of the same reference share the key's prefix.
    buildArgs: bundledBuildArgs(settings, ref, projectBase),
    extraPackages: settings.extraPackages,
    claudeCodeVersion: '',
    caBundleSha256: '',
    baseImageRefs: [ref]
  }
  return {
    prefix: imageCacheKeyPrefix(ingredients),
    baseRef: ref,
    what: asked?.what ?? 'the bundled default',
    complete(base) {
      const key = computeImageCacheKey({ ...ingredients, baseImageDigests: [base.identity] })
      return {
        key,
        tag: imageTag(key),
        context,
        dockerfile,
        buildArgs: bundledBuildArgs(settings, base.fromRef, projectBase),
        labels: baseLabels(ref, base)
      }
    }
  }
}

async function planCustom(
  settings: ImageSettings,
  claudeCodeVersion: string,
  run: ImageRunContext
): Promise<ImagePlan> {
  const platform = cliPlatform()
  const buildArgs = effectiveBuildArgs(settings, claudeCodeVersion)
  if (settings.baseImage) {
    const asked = await requestedBase(settings, run)
    if (asked) buildArgs.BASE_IMAGE = asked.ref
  }
  const dockerfileText = readFileSync(settings.dockerfile, 'utf8')
  const context = path.dirname(settings.dockerfile)
  const key = computeImageCacheKey({
    os: platform.os,
    arch: platform.arch,
    dockerfileContent: dockerfileText,
    contextFiles: await readContextFiles(context),
    buildArgs,
    extraPackages: settings.extraPackages,
    claudeCodeVersion,
    // A custom Dockerfile gets the CA bundle as a build secret: it may change what it builds.
    caBundleSha256: settings.caCertificates
      ? createHash('sha256').update(readFileSync(settings.caCertificates)).digest('hex')
      : '',
    baseImageRefs: baseImageRefs(dockerfileText, buildArgs)
  })
  return {
    key,
    tag: imageTag(key),
    context,
    dockerfile: settings.dockerfile,
    buildArgs,
    caSecretFile: settings.caCertificates
  }
}

/** The tag carries the key, so an image already on this runner is found without any restore. */
function imageTag(key: string): string {
  return `claude-sandbox-agent:${key.replace(/^claude-sandbox-image-/, '').slice(-60)}`.toLowerCase()
}

/** The image of a plan on this runner, if it is here already or in the cache. */
async function findImage(
  plan: { key: string; tag: string },
  settings: ImageSettings,
  log: Logger,
  phases: SetupPhases = {}
): Promise<{ id: string; ref: string; cacheHit: boolean } | undefined> {
  const present = await imageId(plan.tag)
  if (present) {
    log.info(`The agent image ${plan.tag} is already on this runner`)
    return { id: present, ref: plan.tag, cacheHit: false }
  }
  if (!settings.cache) return undefined
  const restored = await restoreImage({ key: plan.key, tarPath: imageTarPath(), log })
  if (!restored.hit) return undefined
  phases['image restore'] = restored.durationsMs?.restore ?? 0
  phases['image load'] = restored.durationsMs?.load ?? 0
  // docker save kept the tag, so the loaded image answers to it; its id if the tag is missing.
  const tagged = await imageId(plan.tag)
  const id = tagged ?? restored.imageId ?? ''
  log.info(`Restored the agent image from the cache (key ${plan.key})`)
  return { id, ref: tagged ? plan.tag : id, cacheHit: true }
}

async function makeImage(
  plan: ImagePlan,
  settings: ImageSettings,
  workDir: string,
  log: BuildLog,
  saves: Promise<unknown>[]
) {
  const id = await buildImage(
    {
      dockerfile: plan.dockerfile,
      context: plan.context,
      tag: plan.tag,
      buildArgs: {
        ...plan.buildArgs,
        BUILD_DATE: new Date().toISOString(),
        VCS_REF: process.env.GITHUB_ACTION_REF || 'local'
      },
      iidFile: path.join(workDir, 'image.iid'),
      caSecretFile: plan.caSecretFile,
      labels: plan.labels
    },
    log
  )
  // Saved at once, so a later failure does not lose the build; not awaited (see `saved`).
  if (settings.cache)
    saves.push(saveImage({ key: plan.key, imageRef: plan.tag, tarPath: imageTarPath(), log }))
  return id
}

interface CliPlan {
  key: string
  binaryPath: string
}

function planCli(claudeCodeVersion: string): CliPlan {
  const platform = cliPlatform()
  return {
    key: cliCacheKey(claudeCodeVersion, platform),
    binaryPath: cliBinaryPath(toolCacheRoot(), claudeCodeVersion, platform.arch)
  }
}

async function findCli(
  plan: CliPlan,
  settings: ImageSettings,
  log: Logger,
  phases: SetupPhases
): Promise<CliMount['source'] | undefined> {
  if (await cliBinaryPresent(plan.binaryPath)) {
    log.info(`Claude Code binary already on this runner (${plan.binaryPath})`)
    return 'present'
  }
  if (
    settings.cache &&
    (await timed(phases, 'CLI restore', () => restoreCliBinary({ ...plan, log })))
  )
    return 'cache'
  return undefined
}

async function makeCli(
  plan: CliPlan,
  settings: ImageSettings,
  claudeCodeVersion: string,
  log: BuildLog,
  saves: Promise<unknown>[],
  runId?: string
): Promise<'fetched'> {
  // The runner's npm registry, unless build-args name the builder to use: streamed
  // (cli-fetch-stream.ts), else with `npm pack` (cli-fetch-host.ts), else in the builder.
  const npm = settings.buildArgs.BUILDER_IMAGE ? undefined : await runnerNpm()
  if (npm?.available) {
    log.startGroup(`Fetching Claude Code ${claudeCodeVersion} (from npm's registry on the runner)`)
    let failed: string | undefined
    try {
      const request = {
        version: claudeCodeVersion,
        arch: cliPlatform().arch,
        caFile: settings.caCertificates,
        binaryPath: plan.binaryPath
      }
      failed = npm.source
        ? await fetchCliStreamed({ ...request, source: npm.source })
        : "npm's configuration names no registry this fetch can use"
      if (failed) {
        log.info(`${failed}; fetching it with npm pack instead`)
        failed = await fetchCliOnHost(request)
      }
      if (failed) log.info(`${failed}; fetching it in the builder container instead`)
    } finally {
      log.endGroup()
    }
    if (!failed) {
      if (settings.cache) saves.push(saveCliBinary({ ...plan, log }))
      return 'fetched'
    }
  }
  await fetchCliBinary({
    runId,
    version: claudeCodeVersion,
    builderImage: settings.buildArgs.BUILDER_IMAGE || DEFAULT_BUILDER_IMAGE,
    caFile: settings.caCertificates,
    binaryPath: plan.binaryPath,
    log
  })
  if (settings.cache) saves.push(saveCliBinary({ ...plan, log }))
  return 'fetched'
}

function cliMount(plan: CliPlan, source: CliMount['source']): CliMount {
  return {
    hostPath: plan.binaryPath,
    containerPath: CLI_CONTAINER_PATH,
    source,
    cacheKey: plan.key
  }
}

/** Whether an image asks for the CLI to be mounted (the bundled Dockerfile's label). */
async function wantsCliMount(ref: string): Promise<boolean> {
  const result = await docker([
    'image',
    'inspect',
    '--format',
    `{{index .Config.Labels "${CLI_MOUNT_LABEL}"}}`,
    ref
  ])
  return result.exitCode === 0 && result.stdout.trim() === CLI_CONTAINER_PATH
}

/**
 * Gets the agent image and, for images that ask for it, the CLI binary to mount:
 * - a prebuilt `image` as given (pulled if absent); the CLI is mounted only if it carries the
 *   bundled Dockerfile's label, otherwise it must bring its own;
 * - otherwise the image and the CLI are two cache entries, looked for at the same time (already
 *   on this runner, else restored); whatever is missing is then built or fetched and saved at
 *   once, so a later failure does not lose it.
 */
export async function prepareImage(
  settings: ImageSettings,
  claudeCodeVersion: string,
  workDir: string,
  actionDockerDir: string,
  log: BuildLog,
  run: ImageRunContext = { workspace: process.cwd() }
): Promise<PreparedImage> {
  const started = Date.now()
  const phases: SetupPhases = {}
  const cacheLog: Logger = { info: log.info, warning: log.warning }
  const saves: Promise<unknown>[] = []
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
    let cli: CliMount | undefined
    if (await wantsCliMount(settings.image)) {
      const cliPlan = planCli(claudeCodeVersion)
      const source =
        (await findCli(cliPlan, settings, cacheLog, phases)) ??
        (await timed(phases, 'CLI fetch', () =>
          makeCli(cliPlan, settings, claudeCodeVersion, log, saves, run.runId)
        ))
      cli = cliMount(cliPlan, source)
    }
    return {
      ref: settings.image,
      id: id ?? '',
      cacheHit: false,
      built: false,
      setupMs: Date.now() - started,
      cli,
      phasesMs: phases
    }
  }

  const cliPlan = planCli(claudeCodeVersion)
  // The bundled image always wants the CLI: it is looked for beside the image (two restores at
  // once); a custom image says whether it wants it by its label.
  // For the bundled image it is also fetched at once on a miss, while the image is restored,
  // pulled or built: a cold start then takes the longer of the two, not their sum.
  let foundCli: Promise<CliMount['source'] | undefined> | undefined = settings.bundledDockerfile
    ? findCli(cliPlan, settings, cacheLog, phases).then(
        source =>
          source ??
          timed(phases, 'CLI fetch', () =>
            makeCli(cliPlan, settings, claudeCodeVersion, log, saves, run.runId)
          )
      )
    : undefined
  // Awaited below; until then a failure must not surface as an unhandled rejection.
  foundCli?.catch(() => undefined)
  const withCli = async (
    image: { id: string; ref: string; cacheHit: boolean },
    how: { built: boolean; pulled?: boolean; key: string }
  ): Promise<PreparedImage> => {
    let cli: CliMount | undefined
    if (settings.bundledDockerfile || (await wantsCliMount(image.ref))) {
      foundCli ??= findCli(cliPlan, settings, cacheLog, phases)
      const source =
        (await foundCli) ??
        (await timed(phases, 'CLI fetch', () =>
          makeCli(cliPlan, settings, claudeCodeVersion, log, saves, run.runId)
        ))
      cli = cliMount(cliPlan, source)
    }
    const saved = Promise.all(saves).then(() => undefined)
    return {
      ...image,
      ...how,
      cacheKey: how.key,
      setupMs: Date.now() - started,
      cli,
      saved,
      phasesMs: phases
    }
  }

  const prebuilt = choosePrebuilt(settings, actionDockerDir, cliPlatform())
  if ('candidate' in prebuilt) {
    const image = await findOrPullPrebuilt(
      prebuilt.candidate,
      settings,
      cacheLog,
      log,
      saves,
      phases
    )
    if (image)
      return withCli(image, {
        built: false,
        pulled: !image.cacheHit && image.pulled,
        key: prebuilt.candidate.key
      })
  } else if (prebuilt.notice) {
    notice(log, prebuiltFallbackNotice('recorded in docker/prebuilt.json', prebuilt.skip))
  }

  if (!settings.bundledDockerfile) {
    const plan = await planCustom(settings, claudeCodeVersion, run)
    const found = await findImage(plan, settings, cacheLog)
    const image = found ?? {
      id: await makeImage(plan, settings, workDir, log, saves),
      ref: plan.tag,
      cacheHit: false
    }
    return withCli(image, { built: found === undefined, key: plan.key })
  }

  const bundled = await planBundled(settings, workDir, actionDockerDir, run)
  const checkedTag = inputsTag(bundled.prefix)
  const presentId = await presentByInputs(checkedTag)
  if (presentId) {
    log.info(`The agent image ${checkedTag} is already on this runner`)
    const rechecked = recheckBaseLater({
      tag: checkedTag,
      id: presentId,
      baseRef: bundled.baseRef,
      currentTag: () =>
        resolveBaseImage(bundled.baseRef, bundled.what, log, { pull: false }).then(
          base => bundled.complete(base).tag,
          () => undefined
        ),
      log: cacheLog
    })
    const prepared = await withCli(
      { id: presentId, ref: checkedTag, cacheHit: false },
      { built: false, key: bundled.prefix }
    )
    return { ...prepared, rechecked }
  }

  // The base's digest is asked while the newest cache entry for these inputs and this base
  // reference is restored (not loaded): on a warm start the two overlap instead of adding up,
  // and the entry is loaded only if its key is the one the digest gives.
  const resolving = timed(phases, 'base digest', () =>
    resolveBaseImage(bundled.baseRef, bundled.what, log)
  ).then(
    base => ({ base }),
    (error: unknown) => ({ error })
  )
  const newest: Promise<RestoredTarball> = settings.cache
    ? restoreImageTarball({
        key: bundled.prefix,
        restoreKeys: [bundled.prefix],
        tarPath: imageTarPath(),
        log: cacheLog
      })
    : Promise.resolve({ hit: false })
  const resolved = await resolving
  const tarball = await newest
  if (tarball.hit) phases['image restore'] = tarball.restoreMs
  if ('error' in resolved) {
    // No registry and no base here: only a cached image of the same inputs can serve.
    const older =
      resolved.error instanceof BaseImageUnavailableError && tarball.hit
        ? await loadFromOlderBase({
            tarball,
            baseRef: bundled.baseRef,
            unavailable: resolved.error,
            log: cacheLog
          })
        : undefined
    if (tarball.hit && !older) await removeImageTarball(tarball.tarPath)
    if (!older) throw resolved.error
    return withCli(older, { built: false, key: older.matchedKey })
  }
  const { base } = resolved
  log.info(`Base image ${bundled.baseRef} (${base.identity}, from the ${base.via})`)
  const plan = bundled.complete(base)
  const image = await findBundledImage(plan, tarball, settings, cacheLog, phases)
  const made = image ?? {
    id: await makeImage(plan, settings, workDir, log, saves),
    ref: plan.tag,
    cacheHit: false
  }
  // Checked against its base just now: the next run on this runner finds it by its inputs.
  await tagAsChecked(made.ref, checkedTag)
  return withCli(made, { built: image === undefined, key: plan.key })
}

/**
 * The bundled image once its base is known: already here under its exact key's tag, else the
 * entry restored beside the digest lookup if it is the exact key's, else the exact key's own entry
 * (an older digest's entry can be the newest one, when a base tag moves back). The tarball is
 * always loaded or removed here.
 */
async function findBundledImage(
  plan: ImagePlan,
  tarball: RestoredTarball,
  settings: ImageSettings,
  log: Logger,
  phases: SetupPhases
): Promise<{ id: string; ref: string; cacheHit: boolean } | undefined> {
  const present = await imageId(plan.tag)
  if (present || !tarball.hit || tarball.matchedKey !== plan.key) {
    if (tarball.hit) await removeImageTarball(tarball.tarPath)
    if (present) {
      log.info(`The agent image ${plan.tag} is already on this runner`)
      return { id: present, ref: plan.tag, cacheHit: false }
    }
    // No entry at all for these inputs: the exact key has none either.
    if (!tarball.hit) return undefined
    log.info(
      `the newest cached agent image for these inputs (${tarball.matchedKey}) was built on another base digest; looking for ${plan.key}`
    )
    return findImage(plan, settings, log)
  }
  const loaded = await loadImageTarball(tarball, log)
  if (!loaded.hit) return undefined
  phases['image load'] = loaded.durationsMs?.load ?? 0
  // docker save kept the tag, so the loaded image answers to it; its id if the tag is missing.
  const tagged = await imageId(plan.tag)
  log.info(`Restored the agent image from the cache (key ${plan.key})`)
  return {
    id: tagged ?? loaded.imageId ?? '',
    ref: tagged ? plan.tag : (loaded.imageId ?? ''),
    cacheHit: true
  }
}

function notice(log: BuildLog, message: string): void {
  if (log.notice) log.notice(message)
  else log.info(message)
}

/**
 * The released image: already on this runner, else from the cache, else pulled by digest and
 * cached at once. Undefined when the pull fails (said in one notice): the caller builds.
 */
async function findOrPullPrebuilt(
  candidate: PrebuiltCandidate,
  settings: ImageSettings,
  cacheLog: Logger,
  log: BuildLog,
  saves: Promise<unknown>[],
  phases: SetupPhases
): Promise<{ id: string; ref: string; cacheHit: boolean; pulled: boolean } | undefined> {
  const target = { key: candidate.key, tag: imageTag(candidate.key) }
  const found = await findImage(target, settings, cacheLog, phases)
  if (found) return { ...found, pulled: false }
  const pulled = await timed(phases, 'pull', () => pullPrebuilt(candidate, target.tag, log))
  if (!pulled.ok) {
    notice(log, prebuiltFallbackNotice(candidate.reference, pulled.reason))
    return undefined
  }
  log.info(`Pulled the prebuilt agent image ${candidate.reference} (${pulled.id})`)
  if (settings.cache)
    saves.push(
      saveImage({ key: target.key, imageRef: target.tag, tarPath: imageTarPath(), log: cacheLog })
    )
  return { id: pulled.id, ref: target.tag, cacheHit: false, pulled: true }
}
