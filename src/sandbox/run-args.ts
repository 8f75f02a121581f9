import path from 'node:path'
import {
  GATEWAY_PORT,
  PROXY_PORT,
  PLACEHOLDER_API_KEY,
  PLACEHOLDER_OAUTH_TOKEN,
  RUN_LABEL,
  SANDBOX_MOUNT
} from '../constants.js'
import type { NetworkMode } from '../settings.js'

/** Everything `docker run` needs for one hardened agent container. */
export interface ContainerSpec {
  name: string
  runId: string
  image: string
  /** Host path of the repository, mounted at /workspace. */
  workspace: string
  /** Host path of the repository's .git (a directory, or a file for worktrees), mounted read-only. */
  gitPath: string
  /** Host directory holding only the gateway and proxy sockets, mounted read-only. */
  socketDir: string
  user: { uid: number; gid: number }
  home: string
  network: NetworkMode
  /** Whether the egress proxy runs (restricted mode). */
  proxy: boolean
  memory: string
  cpus: string
  pidsLimit: number
  /** The `env` input, already parsed. */
  userEnv: Record<string, string>
  /**
   * Which credential the gateway holds; the CLI inside gets a placeholder of the same kind, so
   * it behaves as it would with the real one (an OAuth token picks other model defaults).
   */
  credentialKind?: 'api-key' | 'oauth'
  /**
   * The Claude Code CLI binary the action provides, mounted read-only (images built from the
   * bundled Dockerfile do not contain it; see src/image/cli-binary.ts).
   */
  cliBinary?: { hostPath: string; containerPath: string }
  /** Name of a CA bundle inside socketDir to trust in the sandbox. */
  caBundleName?: string
  /** The runner's tool cache (its host path is also its path inside), mounted read-only. */
  toolCache?: string
  /**
   * The repository's host path, where it is mounted a second time (with its .git read-only on
   * top, as at /workspace), so what the job installed into it with absolute paths works inside.
   */
  workspaceAlias?: string
  /** PATH and toolchain variables from tool-cache.ts; the `env` input wins over them. */
  toolchainEnv?: Record<string, string>
  /** The toolchain check's script in the socket directory, run by the entrypoint (tool-probe.ts). */
  toolProbe?: string
  /**
   * Read-only files and directories in place of what the working tree holds (the credential
   * shield: a sanitised git config, empty files over credential files; src/credentials/). A
   * relative target is in the working tree (at /workspace and at the alias); an absolute one is
   * where it is.
   */
  overlays?: Array<{ source: string; target: string }>
  /** The CLI's provider mode (Bedrock, Vertex) pointed at the gateway; see providers/cli-env.ts. */
  providerEnv?: Record<string, string>
  /**
   * Run-private host directory mounted read-write at `<home>/.claude/projects`, where the CLI
   * keeps its session transcripts, so a follow-up can resume them (src/continuation/). The rest
   * of `<home>/.claude` stays a tmpfs.
   */
  sessionDir?: string
  command: string[]
}

/**
 * The container's whole environment: an allow-list of what the action sets plus the `env`
 * input. Nothing of the runner's own environment (tokens, INPUT_*, cloud credentials) is here.
 */
export function containerEnv(spec: ContainerSpec): Record<string, string> {
  const env: Record<string, string> = { ...spec.toolchainEnv, ...spec.userEnv }
  Object.assign(env, {
    HOME: spec.home,
    CI: 'true',
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${GATEWAY_PORT}`,
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    SANDBOX_DIR: SANDBOX_MOUNT,
    SANDBOX_REQUIRE_GATEWAY: '1',
    SANDBOX_GATEWAY_PORT: String(GATEWAY_PORT),
    SANDBOX_PROXY_PORT: String(PROXY_PORT)
  })
  // The entrypoint marks the alias safe for git as well (see agent-entrypoint.sh).
  if (spec.workspaceAlias) env.SANDBOX_WORKSPACE_ALIAS = spec.workspaceAlias
  if (spec.toolProbe) env.SANDBOX_TOOL_PROBE = spec.toolProbe
  if (spec.providerEnv && Object.keys(spec.providerEnv).length > 0)
    Object.assign(env, spec.providerEnv)
  else if (spec.credentialKind === 'oauth') env.CLAUDE_CODE_OAUTH_TOKEN = PLACEHOLDER_OAUTH_TOKEN
  else env.ANTHROPIC_API_KEY = PLACEHOLDER_API_KEY
  if (spec.proxy) {
    const proxy = `http://127.0.0.1:${PROXY_PORT}`
    const noProxy = 'localhost,127.0.0.1,::1'
    Object.assign(env, {
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      NO_PROXY: noProxy,
      no_proxy: noProxy
    })
  }
  if (spec.caBundleName) {
    const bundle = `${SANDBOX_MOUNT}/${spec.caBundleName}`
    Object.assign(env, {
      NODE_EXTRA_CA_CERTS: bundle,
      SSL_CERT_FILE: bundle,
      GIT_SSL_CAINFO: bundle,
      REQUESTS_CA_BUNDLE: bundle,
      PIP_CERT: bundle,
      CURL_CA_BUNDLE: bundle
    })
  }
  return env
}

/**
 * What every container the action starts shares: an unprivileged user, no capabilities, no way
 * to gain privileges, a read-only root filesystem. (Docker's default seccomp profile applies: it
 * is never turned off.)
 */
export function lockedDownArgs(user: { uid: number; gid: number }): string[] {
  return [
    '--user',
    `${user.uid}:${user.gid}`,
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges:true',
    '--read-only'
  ]
}

/**
 * The hardened `docker run` argument list (pure). The `env` input's values may be secrets: they
 * are passed as bare `--env KEY`, read from the docker client's environment (see
 * clientEnvForRun), so they never appear on a command line. The action's own values are not
 * secret and are given inline.
 */
export function dockerRunArgs(spec: ContainerSpec): string[] {
  const env = containerEnv(spec)
  const tmpfsOptions = 'rw,nosuid,nodev,exec,size=1g'
  const args = [
    'run',
    '--interactive',
    '--name',
    spec.name,
    '--label',
    `${RUN_LABEL}=${spec.runId}`,
    '--hostname',
    'claude-sandbox',
    '--init',
    // The action reads the output from the attached client; a daemon-side log copy would write
    // whatever the agent prints (gigabytes, if it wants) to the runner's disk a second time.
    '--log-driver',
    'none',
    ...lockedDownArgs(spec.user),
    '--tmpfs',
    `/tmp:${tmpfsOptions},mode=1777`,
    '--tmpfs',
    `${spec.home}:${tmpfsOptions},mode=0700,uid=${spec.user.uid},gid=${spec.user.gid}`,
    '--pids-limit',
    String(spec.pidsLimit),
    '--memory',
    spec.memory,
    // No swap beyond the memory limit, so an out-of-memory run ends instead of thrashing.
    '--memory-swap',
    spec.memory,
    '--cpus',
    spec.cpus,
    '--network',
    spec.network === 'open' ? 'bridge' : 'none',
    '--volume',
    `${spec.workspace}:/workspace:rw`,
    '--volume',
    `${spec.gitPath}:/workspace/${path.basename(spec.gitPath)}:ro`,
    '--volume',
    `${spec.socketDir}:${SANDBOX_MOUNT}:ro`,
    '--workdir',
    '/workspace'
  ]
  if (spec.cliBinary) {
    args.push('--volume', `${spec.cliBinary.hostPath}:${spec.cliBinary.containerPath}:ro`)
  }
  if (spec.workspaceAlias) {
    args.push(
      '--volume',
      `${spec.workspace}:${spec.workspaceAlias}:rw`,
      '--volume',
      `${spec.gitPath}:${spec.workspaceAlias}/${path.basename(spec.gitPath)}:ro`
    )
  }
  if (spec.toolCache) args.push('--volume', `${spec.toolCache}:${spec.toolCache}:ro`)
  args.push(...overlayArgs(spec))
  if (spec.sessionDir) {
    // `.claude` gets a tmpfs of its own, owned by the agent: a mount point Docker creates for the
    // bind mount below would be root's, and the CLI writes beside its transcripts.
    args.push(
      '--tmpfs',
      `${spec.home}/.claude:${tmpfsOptions},mode=0700,uid=${spec.user.uid},gid=${spec.user.gid}`,
      '--volume',
      `${spec.sessionDir}:${spec.home}/.claude/projects:rw`
    )
  }
  for (const key of Object.keys(env).sort()) {
    const fromUser = key in spec.userEnv && env[key] === spec.userEnv[key]
    args.push('--env', fromUser ? key : `${key}=${env[key]}`)
  }
  args.push(spec.image, ...spec.command)
  return args
}

/** `--mount` arguments for the spec's overlays (docker mounts parents before children). */
function overlayArgs(spec: ContainerSpec): string[] {
  const args: string[] = []
  for (const overlay of spec.overlays ?? []) {
    const targets = path.isAbsolute(overlay.target)
      ? [overlay.target]
      : [
          path.posix.join('/workspace', overlay.target),
          ...(spec.workspaceAlias ? [path.posix.join(spec.workspaceAlias, overlay.target)] : [])
        ]
    for (const target of targets) {
      args.push(
        '--mount',
        ['type=bind', `source=${overlay.source}`, `target=${target}`, 'readonly']
          .map(csvField)
          .join(',')
      )
    }
  }
  return args
}

/** `--mount` is read as CSV: a field holding a comma or a quote is quoted. */
function csvField(field: string): string {
  return /[",\n\r]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field
}

/** The docker client's environment for `docker run`: the runner's, plus the `env` input's values. */
export function clientEnvForRun(
  spec: ContainerSpec,
  base: NodeJS.ProcessEnv = process.env
): NodeJS.ProcessEnv {
  return { ...base, ...spec.userEnv }
}
