import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs'
import path from 'node:path'
import { SANDBOX_MOUNT } from '../constants.js'
import { inspectImage } from '../docker.js'
import { probeScript, versionCommand } from './tool-probe.js'

/**
 * "What the job set up is what the agent has": the runner's tool cache ($RUNNER_TOOL_CACHE,
 * where actions/setup-node, setup-python, setup-go, setup-java … install) is mounted read-only
 * at its own path, the step's PATH entries under it come first on the container's PATH, and the
 * toolchain variables that point into it come along. The repository is also mounted a second
 * time at its host path, so what the job installed into it (a `.venv` whose scripts start with
 * `#!/home/runner/work/app/app/.venv/bin/python`, editable installs' `.pth` files) works inside.
 *
 * Nothing else of the host is mounted: a tool cache whose path would expose more than itself
 * (`/`, `/usr`, an ancestor of the workspace or of $HOME …) or land on a path the sandbox uses is
 * left out with a warning.
 */

/** Scalar variables passed to the container when their whole value lies under the tool cache. */
export const TOOLCHAIN_VARIABLES = [
  'JAVA_HOME',
  'GOROOT',
  'GOPATH',
  'pythonLocation',
  'Python_ROOT_DIR',
  'Python2_ROOT_DIR',
  'Python3_ROOT_DIR',
  'DOTNET_ROOT'
] as const
/** setup-java's per-version homes: JAVA_HOME_17_X64, JAVA_HOME_21_ARM64 … */
export const VERSIONED_JAVA_HOME = /^JAVA_HOME_\d+_[A-Za-z0-9]+$/
/** Colon-separated lists of which only the entries under the tool cache are passed. */
export const TOOLCHAIN_LIST_VARIABLES = ['PKG_CONFIG_PATH', 'LD_LIBRARY_PATH'] as const

/** The image's PATH when its configuration has none (Debian's default). */
export const DEFAULT_IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** One tool installed by a setup-* action: `<root>/<tool>/<version>/<arch>`. */
export interface Toolchain {
  /** The tool's directory name in the cache (`node`, `Python`, `go`, `Java_Temurin-Hotspot_jdk`). */
  tool: string
  version: string
  arch: string
  /** `<root>/<tool>/<version>/<arch>` */
  dir: string
  /** The step's PATH entries inside `dir`, in PATH order. */
  pathEntries: string[]
}

export interface ToolCachePlan {
  /** Host path of the tool cache, which is also its path inside the container; none if left out. */
  root?: string
  /** The step's PATH entries under the tool cache or the workspace, in PATH order. */
  pathEntries: string[]
  /** Toolchain variables (see TOOLCHAIN_VARIABLES) pointing into the tool cache. */
  env: Record<string, string>
  toolchains: Toolchain[]
}

/** Where the repository is mounted inside; its host path is mounted too (workspaceAlias). */
const CONTAINER_WORKSPACE = '/workspace'

/**
 * Container paths a host path must not be mounted on or above: the sandbox's own mounts and the
 * image's system directories (a tool cache at /usr/local would hide the CLI).
 */
const RESERVED_CONTAINER_PATHS = [
  CONTAINER_WORKSPACE,
  SANDBOX_MOUNT,
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/var',
  '/boot',
  '/root',
  '/run'
]

/** True when `child` is `parent` or inside it (lexically, both absolute and normalised). */
export function isWithin(child: string, parent: string): boolean {
  if (parent === '/') return true
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : `${parent}/`)
}

function normalise(p: string): string {
  return path.resolve(p).replace(/\/+$/, '') || '/'
}

/**
 * Why `target` cannot be a mount point inside the container, or undefined when it can. It must be
 * at least two levels deep and neither on, above nor inside a reserved path (`home` is the
 * container's home directory, a tmpfs the CLI needs).
 */
export function unusableMountTarget(target: string, home: string): string | undefined {
  const normal = normalise(target)
  if (normal.split('/').filter(Boolean).length < 2) return `${normal} is too close to /`
  for (const reserved of [...RESERVED_CONTAINER_PATHS, home]) {
    if (isWithin(normal, reserved) || isWithin(reserved, normal))
      return `${normal} overlaps the sandbox's ${reserved}`
  }
  // /tmp is a tmpfs inside: a directory in it can be mounted there (local runs, tests), /tmp not.
  if (isWithin('/tmp', normal)) return `${normal} overlaps the sandbox's /tmp`
  return undefined
}

export interface ToolCacheRootOptions {
  /** $RUNNER_TOOL_CACHE as the step sees it. */
  toolCache: string | undefined
  /** Host paths the mount must not contain: the workspace, $RUNNER_TEMP, $HOME, the socket directory. */
  hostPrivate: string[]
  /** The container's home directory. */
  home: string
}

export type ToolCacheRoot = { root: string } | { skipped: string }

/**
 * The tool cache to mount, or why it is left out. Undefined when the runner has none (the
 * variable is unset or the directory does not exist): nothing to say then.
 */
export function toolCacheRoot(options: ToolCacheRootOptions): ToolCacheRoot | undefined {
  if (!options.toolCache || !path.isAbsolute(options.toolCache)) return undefined
  const root = normalise(options.toolCache)
  let real: string
  try {
    if (!lstatSync(root).isDirectory() && !lstatSync(realpathSync(root)).isDirectory())
      return undefined
    real = realpathSync(root)
  } catch {
    return undefined
  }
  const target = unusableMountTarget(root, options.home)
  if (target) return { skipped: target }
  if (real.split('/').filter(Boolean).length < 2) return { skipped: `it is ${real} on the host` }
  for (const hostPath of options.hostPrivate) {
    const other = normalise(hostPath)
    let otherReal = other
    try {
      otherReal = realpathSync(other)
    } catch {
      // Not there (yet): compare the path as given.
    }
    if (isWithin(other, real) || isWithin(otherReal, real))
      return { skipped: `it contains ${other}, which must stay out of the sandbox` }
  }
  return { root }
}

/**
 * Where the repository's host path can be mounted a second time, or undefined when it cannot
 * (it is /workspace already, or overlaps a reserved path or the tool cache).
 */
export function workspaceAlias(
  workspace: string,
  home: string,
  toolCache?: string
): string | undefined {
  const alias = normalise(workspace)
  if (alias === CONTAINER_WORKSPACE) return undefined
  if (unusableMountTarget(alias, home)) return undefined
  if (toolCache && (isWithin(alias, toolCache) || isWithin(toolCache, alias))) return undefined
  return alias
}

/**
 * The plan (pure): which PATH entries and variables of the step come along. `stepPath` is the
 * step's PATH (what setup-* actions added through $GITHUB_PATH is in it), `env` the step's
 * environment, `workspace` the repository's host path (PATH entries and VIRTUAL_ENV under it come
 * along too, as the repository is mounted at that path as well).
 */
export function planToolCache(
  root: string | undefined,
  stepPath: string,
  env: Record<string, string | undefined>,
  workspace?: string
): ToolCachePlan {
  const under = (value: string): boolean =>
    root !== undefined && path.isAbsolute(value) && isWithin(normalise(value), root)
  const inWorkspace = (value: string): boolean =>
    workspace !== undefined &&
    path.isAbsolute(value) &&
    isWithin(normalise(value), normalise(workspace))

  const pathEntries: string[] = []
  for (const entry of stepPath.split(':')) {
    if (entry === '' || !(under(entry) || inWorkspace(entry))) continue
    const normal = normalise(entry)
    if (!pathEntries.includes(normal)) pathEntries.push(normal)
  }

  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue
    const scalar =
      (TOOLCHAIN_VARIABLES as readonly string[]).includes(name) || VERSIONED_JAVA_HOME.test(name)
    if (scalar && under(value)) result[name] = value
    if (name === 'VIRTUAL_ENV' && inWorkspace(value)) result[name] = value
    if ((TOOLCHAIN_LIST_VARIABLES as readonly string[]).includes(name)) {
      const kept = value.split(':').filter(under)
      if (kept.length > 0) result[name] = kept.join(':')
    }
  }

  const toolchains: Toolchain[] = []
  for (const entry of pathEntries) {
    if (root === undefined || !under(entry)) continue
    const [tool, version, arch] = path.relative(root, entry).split('/')
    if (!tool || !version || !arch) continue
    const dir = path.join(root, tool, version, arch)
    const known = toolchains.find(t => t.dir === dir)
    if (known) known.pathEntries.push(entry)
    else toolchains.push({ tool, version, arch, dir, pathEntries: [entry] })
  }
  return { root, pathEntries, env: result, toolchains }
}

/** At most this many installed-but-unused toolchains are listed for the agent. */
const MAX_AVAILABLE = 30

/**
 * Toolchains installed in the cache (`<tool>/<version>/<arch>` with setup-*'s `<arch>.complete`
 * marker beside it) that the step did not put on PATH: GitHub-hosted runners come with several
 * versions of node, Python, Go and Java there. Listed for the agent, not probed.
 */
export function availableToolchains(root: string, used: Toolchain[]): Toolchain[] {
  const found: Toolchain[] = []
  const dirs = (dir: string): string[] => {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter(entry => entry.isDirectory())
        .map(entry => entry.name)
        .sort()
    } catch {
      return []
    }
  }
  for (const tool of dirs(root)) {
    for (const version of dirs(path.join(root, tool))) {
      for (const arch of dirs(path.join(root, tool, version))) {
        const dir = path.join(root, tool, version, arch)
        if (!existsSync(`${dir}.complete`) || used.some(t => t.dir === dir)) continue
        const bin = path.join(dir, 'bin')
        found.push({ tool, version, arch, dir, pathEntries: [existsSync(bin) ? bin : dir] })
        if (found.length >= MAX_AVAILABLE) return found
      }
    }
  }
  return found
}

/** The container's PATH: the step's toolchain entries first, then the image's own PATH. */
export function containerPath(plan: ToolCachePlan, imagePath: string | undefined): string {
  const rest = (imagePath || DEFAULT_IMAGE_PATH).split(':').filter(Boolean)
  return [...plan.pathEntries, ...rest.filter(entry => !plan.pathEntries.includes(entry))].join(':')
}

/** The variables given to the container: PATH and the toolchain variables. */
export function toolchainEnv(
  plan: ToolCachePlan,
  imagePath: string | undefined
): Record<string, string> {
  return { ...plan.env, PATH: containerPath(plan, imagePath) }
}

/** The plan without the broken toolchains' PATH entries and the variables that point into them. */
export function withoutToolchains(plan: ToolCachePlan, broken: Toolchain[]): ToolCachePlan {
  const dirs = broken.map(toolchain => toolchain.dir)
  const inBroken = (value: string): boolean => dirs.some(dir => isWithin(normalise(value), dir))
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(plan.env)) {
    const kept = value.split(':').filter(entry => !inBroken(entry))
    if (kept.length > 0) env[name] = kept.join(':')
  }
  return {
    root: plan.root,
    pathEntries: plan.pathEntries.filter(entry => !inBroken(entry)),
    env,
    toolchains: plan.toolchains.filter(toolchain => !dirs.includes(toolchain.dir))
  }
}

/** The image's own PATH, from its configuration. */
export async function imagePath(image: string): Promise<string | undefined> {
  const entry = (await inspectImage(image))?.env.find(item => item.startsWith('PATH='))
  return entry?.slice('PATH='.length)
}

/** What the sandbox session needs from this module for one run. */
export interface ToolchainSetup {
  /** The tool cache's path (host = container), mounted read-only; undefined when left out. */
  toolCache?: string
  /** The repository's host path, mounted a second time there (see workspaceAlias). */
  workspaceAlias?: string
  /** PATH and toolchain variables for the container (the `env` input wins over them). */
  env: Record<string, string>
  /** The toolchains the agent can use, for its system prompt. */
  toolchains: Toolchain[]
  /** Installed in the tool cache but not on PATH (availableToolchains), for its system prompt. */
  available: Toolchain[]
  /**
   * The version check the container's entrypoint runs before the CLI (tool-probe.ts); undefined
   * when no toolchain on PATH is one it knows.
   */
  probe?: string
  /** The same set-up without these toolchains: those the probe showed cannot run in the image. */
  without: (broken: Toolchain[]) => ToolchainSetup
}

export interface PrepareToolchainOptions {
  enabled: boolean
  workspace: string
  image: string
  home: string
  /** Host paths that must stay out of the sandbox ($RUNNER_TEMP, $HOME, the socket directory). */
  hostPrivate: string[]
  /** The step's environment (PATH, RUNNER_TOOL_CACHE, toolchain variables). */
  env?: NodeJS.ProcessEnv
  log: { info: (message: string) => void; warning: (message: string) => void }
}

/**
 * Everything for one run: decides the mount and derives PATH and variables. The tools are not
 * run here: the agent's container checks them first (tool-probe.ts), and the session drops those
 * that fail with `without`.
 */
export async function prepareToolchain(options: PrepareToolchainOptions): Promise<ToolchainSetup> {
  const env = options.env ?? process.env
  const root = options.enabled
    ? toolCacheRoot({
        toolCache: env.RUNNER_TOOL_CACHE,
        hostPrivate: [options.workspace, ...options.hostPrivate],
        home: options.home
      })
    : undefined
  if (root && 'skipped' in root)
    options.log.warning(
      `The runner's tool cache (${env.RUNNER_TOOL_CACHE}) is not mounted: ${root.skipped}. Set runner-tool-cache: false to silence this`
    )
  const toolCache = root && 'root' in root ? root.root : undefined
  const alias = workspaceAlias(options.workspace, options.home, toolCache)
  // The workspace's own PATH entries and virtualenv work through the second mount even without
  // the tool cache.
  const plan = planToolCache(toolCache, env.PATH ?? '', env, alias)
  const imagePathValue = plan.pathEntries.length > 0 ? await imagePath(options.image) : undefined
  if (plan.toolchains.length > 0)
    options.log.info(
      `Toolchains from the runner's tool cache: ${plan.toolchains.map(t => `${t.tool} ${t.version}`).join(', ')} (checked in the sandbox before the agent starts)`
    )
  const setupFor = (current: ToolCachePlan, broken: Toolchain[]): ToolchainSetup => ({
    toolCache,
    workspaceAlias: alias,
    env:
      current.pathEntries.length > 0 ? toolchainEnv(current, imagePathValue) : { ...current.env },
    toolchains: current.toolchains,
    // Not the broken ones: they were shown not to run here.
    available: toolCache ? availableToolchains(toolCache, [...current.toolchains, ...broken]) : [],
    probe: current.toolchains.some(toolchain => versionCommand(toolchain.tool))
      ? probeScript(current.toolchains)
      : undefined,
    without: more => {
      const dropped = [...broken, ...more]
      return setupFor(withoutToolchains(current, more), dropped)
    }
  })
  return setupFor(plan, [])
}
