import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
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
  restoreImage,
  restoreImageTarball,
  saveImage,
  type Logger,
  type RestoredTarball
} from './cache.js'
import { cliPlatform } from './cli-binary.js'
import { readDevcontainerImage } from './devcontainer.js'
import {
  choosePrebuilt,
  prebuiltFallbackNotice,
  pullPrebuilt,
  type PrebuiltCandidate
} from './prebuilt.js'
import { ImageCli, type CliMount } from './image-cli.js'
import { inputsTag, presentByInputs, recheckBaseLater, tagAsChecked } from './present-image.js'
import { timed, type SetupPhases } from './setup-phases.js'
import { SetupSaves } from './setup-saves.js'
import { baseLabels, loadFromOlderBase } from './warm-fallback.js'

export type { CliMount } from './image-cli.js'
export type { SetupPhases } from './setup-phases.js'

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
  saves: SetupSaves
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
  // Queued at once, so a later failure does not lose the build; not awaited (see `saved`).
  if (settings.cache)
    saves.add(() => saveImage({ key: plan.key, imageRef: plan.tag, tarPath: imageTarPath(), log }))
  return id
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
  const setup: SetupContext = {
    settings,
    log,
    cacheLog: { info: log.info, warning: log.warning },
    saves: new SetupSaves(),
    phases: {}
  }
  const cli = new ImageCli({ ...setup, claudeCodeVersion, runId: run.runId })
  // The bundled image always mounts the CLI; a given `image` or a custom Dockerfile's by label.
  const bundled = settings.bundledDockerfile && !settings.image
  const finish: Finish = async (image, how) => ({
    ...image,
    ...how,
    cacheKey: how.key,
    setupMs: Date.now() - started,
    cli: await cli.forImage(image.ref, bundled),
    saved: setup.saves.done(),
    phasesMs: setup.phases
  })
  // The saves start once the set-up has settled, done or failed (setup-saves.ts).
  try {
    if (settings.image)
      return await finish(await givenImage(settings.image, log), { built: false, key: undefined })
    // The bundled image's CLI is looked for (and fetched on a miss) at once, beside the image.
    if (bundled) cli.startEarly()

    const prebuilt = choosePrebuilt(settings, actionDockerDir, cliPlatform())
    if ('candidate' in prebuilt) {
      const image = await findOrPullPrebuilt(prebuilt.candidate, setup)
      if (image)
        return await finish(image, {
          built: false,
          pulled: !image.cacheHit && image.pulled,
          key: prebuilt.candidate.key
        })
    } else if (prebuilt.notice) {
      notice(log, prebuiltFallbackNotice('recorded in docker/prebuilt.json', prebuilt.skip))
    }

    if (!settings.bundledDockerfile) {
      const plan = await planCustom(settings, claudeCodeVersion, run)
      const found = await findImage(plan, settings, setup.cacheLog)
      const image = found ?? {
        id: await makeImage(plan, settings, workDir, log, setup.saves),
        ref: plan.tag,
        cacheHit: false
      }
      return await finish(image, { built: found === undefined, key: plan.key })
    }
    return await prepareBundledImage(setup, workDir, actionDockerDir, run, finish)
  } finally {
    setup.saves.start()
  }
}

/** What every path of one set-up shares: its settings, logs, the saves it started, its phases. */
interface SetupContext {
  settings: ImageSettings
  log: BuildLog
  cacheLog: Logger
  /** Held until the set-up has settled (setup-saves.ts). */
  saves: SetupSaves
  phases: SetupPhases
}

type FoundImage = { id: string; ref: string; cacheHit: boolean }

/** Completes a set-up with the image found: the CLI beside it, the saves, the figures. */
type Finish = (
  image: FoundImage,
  how: { built: boolean; pulled?: boolean; key: string | undefined }
) => Promise<PreparedImage>

/** The `image` input as given, pulled if absent. */
async function givenImage(ref: string, log: BuildLog): Promise<FoundImage> {
  let id = await imageId(ref)
  if (!id) {
    log.info(`Pulling ${ref}`)
    const pull = await docker(['pull', ref])
    if (pull.exitCode !== 0) {
      throw new ConfigurationError(
        `The image ${ref} is not on this runner and could not be pulled (${lastLines(pull.stderr, 1)})`,
        'Check the `image` input, or log in to its registry (docker/login-action) first'
      )
    }
    id = await imageId(ref)
  }
  return { id: id ?? '', ref, cacheHit: false }
}

/**
 * The bundled image built from the action's Dockerfile: already on this runner under its inputs
 * tag (its base checked after the start), else the cache entry for these inputs restored while
 * the base's digest is asked, else built. With the registry unreachable, a cached image of the
 * same inputs built on an older digest serves (warm-fallback.ts).
 */
async function prepareBundledImage(
  setup: SetupContext,
  workDir: string,
  actionDockerDir: string,
  run: ImageRunContext,
  finish: Finish
): Promise<PreparedImage> {
  const { settings, log, cacheLog, phases } = setup
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
    const prepared = await finish(
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
    return finish(older, { built: false, key: older.matchedKey })
  }
  const { base } = resolved
  log.info(`Base image ${bundled.baseRef} (${base.identity}, from the ${base.via})`)
  const plan = bundled.complete(base)
  const image = await findBundledImage(plan, tarball, settings, cacheLog, phases)
  const made = image ?? {
    id: await makeImage(plan, settings, workDir, log, setup.saves),
    ref: plan.tag,
    cacheHit: false
  }
  // Checked against its base just now: the next run on this runner finds it by its inputs.
  await tagAsChecked(made.ref, checkedTag)
  return finish(made, { built: image === undefined, key: plan.key })
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
  setup: SetupContext
): Promise<(FoundImage & { pulled: boolean }) | undefined> {
  const { settings, cacheLog, log, saves, phases } = setup
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
    saves.add(() =>
      saveImage({ key: target.key, imageRef: target.tag, tarPath: imageTarPath(), log: cacheLog })
    )
  return { id: pulled.id, ref: target.tag, cacheHit: false, pulled: true }
}
