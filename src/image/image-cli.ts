/**
 * The CLI binary beside the agent image (cli-binary.ts): the bundled image always mounts it, a
 * custom image when its label asks. Looked for on this runner, else restored from its own cache
 * entry, else fetched (streamed from the runner's npm registry, `npm pack`, or the builder
 * container) and saved at once. For the bundled image the lookup starts beside the image's own
 * preparation, so a cold start takes the longer of the two, not their sum.
 */
import { inspectImage } from '../docker.js'
import type { ImageSettings } from '../settings.js'
import type { BuildLog } from './build.js'
import { restoreCliBinary, saveCliBinary, type Logger } from './cache.js'
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
import { timed, type SetupPhases } from './setup-phases.js'
import type { SetupSaves } from './setup-saves.js'

/** The CLI binary the container gets read-only, for images that ask for it. */
export interface CliMount {
  hostPath: string
  containerPath: string
  /** Where it came from on this run. */
  source: 'present' | 'cache' | 'fetched'
  cacheKey: string
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
  saves: SetupSaves,
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
      if (settings.cache) saves.add(() => saveCliBinary({ ...plan, log }))
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
  if (settings.cache) saves.add(() => saveCliBinary({ ...plan, log }))
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
  return (await inspectImage(ref))?.labels[CLI_MOUNT_LABEL] === CLI_CONTAINER_PATH
}

/** What the CLI's lookup and fetch need of the run. */
export interface ImageCliContext {
  settings: ImageSettings
  claudeCodeVersion: string
  log: BuildLog
  cacheLog: Logger
  /** Cache saves queued here join the run's (see PreparedImage.saved). */
  saves: SetupSaves
  phases: SetupPhases
  runId?: string
}

/** The CLI for one set-up: one lookup, and one fetch on a miss, whoever asks first. */
export class ImageCli {
  private readonly plan: CliPlan
  private lookup?: Promise<CliMount['source'] | undefined>

  constructor(private readonly context: ImageCliContext) {
    this.plan = planCli(context.claudeCodeVersion)
  }

  /** Looks for the CLI now, and fetches it on a miss, beside the image's preparation. */
  startEarly(): void {
    this.lookup = this.find().then(source => source ?? this.fetch())
    // Awaited in forImage; until then a failure must not surface as an unhandled rejection.
    this.lookup.catch(() => undefined)
  }

  /** The mount for `imageRef`: always for the bundled image, by its label for another one. */
  async forImage(imageRef: string, bundled: boolean): Promise<CliMount | undefined> {
    if (!bundled && !(await wantsCliMount(imageRef))) return undefined
    this.lookup ??= this.find()
    const source = (await this.lookup) ?? (await this.fetch())
    return cliMount(this.plan, source)
  }

  private find(): Promise<CliMount['source'] | undefined> {
    const { settings, cacheLog, phases } = this.context
    return findCli(this.plan, settings, cacheLog, phases)
  }

  private fetch(): Promise<'fetched'> {
    const { settings, claudeCodeVersion, log, saves, phases, runId } = this.context
    return timed(phases, 'CLI fetch', () =>
      makeCli(this.plan, settings, claudeCodeVersion, log, saves, runId)
    )
  }
}
