/**
 * One sandbox session: everything that exists only while the agent runs, opened in order and
 * closed in reverse whatever happens. It owns the doors out of the container (the credential
 * gateway, and in restricted mode the egress proxy), the container's specification (mounts,
 * environment, limits), lending the working tree to the image's user on root runners, the
 * base-branch agent configuration on pull requests, and the gateway's and proxy's logs.
 *
 * main.ts sees one call and one result: how the container ended, what the CLI wrote, and what
 * the doors saw.
 */
import * as core from '@actions/core'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { claudeArgs, type NoteToolchain } from '../agent/claude-args.js'
import type { ContainerOutcome } from '../agent/result.js'
import { TranscriptReader } from '../agent/stream.js'
import { GATEWAY_PORT, GATEWAY_SOCKET, IMAGE_USER, PROXY_SOCKET, State } from '../constants.js'
import type { PreparedImage } from '../image/prepare.js'
import type { CredentialShield } from '../credentials/shield.js'
import { certificateBlocks } from '../inputs.js'
import type { RunPaths } from '../run-paths.js'
import type { Settings } from '../settings.js'
import { restoreHeadAgentConfig, useBaseBranchAgentConfig } from '../triggers/base-config.js'
import type { TriggerDecision } from '../triggers/event.js'
import { parseAllowedDomains } from '../egress/allow-list.js'
import { runContainer } from './container.js'
import { checkDaemonSeesDirectory } from './daemon-visibility.js'
import type { ApiFigures } from '../api-door/api-ledger.js'
import { apiDoorFor, type ApiDoor } from '../api-door/api-door.js'
import { providerCliEnv } from '../api-door/providers/cli-env.js'
import type { UpstreamProvider } from '../api-door/providers/provider.js'
import { withDiskGuard } from './disk-guard.js'
import { startGateway, type Gateway } from '../api-door/gateway.js'
import { startEgressProxy, type DeniedHost, type EgressProxy } from '../egress/proxy.js'
import { clientEnvForRun, dockerRunArgs, type ContainerSpec } from './run-args.js'
import { prepareToolchain, type Toolchain, type ToolchainSetup } from './tool-cache.js'
import {
  TOOL_PROBE_EXIT,
  TOOL_PROBE_FILE,
  brokenToolsWarning,
  failedProbes,
  isProbeLine
} from './tool-probe.js'
import { upstreamProxyFor } from '../egress/upstream-proxy.js'
import { agentUser, lendWorkspaceTo, returnWorkspace } from './workspace.js'

export interface SessionInput {
  settings: Settings
  paths: RunPaths
  /** Host path of the repository's `.git`, mounted read-only on top of the working tree. */
  gitPath: string
  image: PreparedImage
  decision: TriggerDecision
  cancel: AbortSignal
  /** What the container gets in place of the working tree's credentials (src/credentials/). */
  shield?: CredentialShield
  /** The model provider, opened with its credentials (api-door/providers/open.ts). */
  provider: UpstreamProvider
  /** Host directory for the CLI's session transcripts (src/continuation/conversation.ts). */
  sessionDir?: string
}

/** What a finished session leaves behind for the outcome, the patch and the report. */
export interface SessionResult {
  container: ContainerOutcome
  transcript: TranscriptReader
  /** How many requests went through the credential gateway. */
  gatewayRequests: number
  /** The gateway's own figures (cost, tokens, turns, refusals, the spend cap). */
  api: ApiFigures
  /** The container's wall time, measured by the host. */
  durationMs: number
  /** Hosts the egress proxy refused (restricted mode), and how many more were not listed. */
  deniedHosts: DeniedHost[]
  deniedHostsOmitted: number
}

/** Opens the doors, runs the agent in the hardened container, and closes everything again. */
export async function runSandboxSession(input: SessionInput): Promise<SessionResult> {
  const { settings, paths, image } = input
  const caPem = sandboxCaBundle(settings)
  const apiDoor = apiDoorFor(settings, core)
  // What of the job's toolchain goes in (no container needed: the tools are checked inside the
  // agent's own) and the doors, both at once.
  const toolchainSetup = sessionToolchain(input)
  toolchainSetup.catch(() => undefined) // awaited below, unless the doors fail first
  const doors = await openDoors(settings, paths, apiDoor, input.provider, caPem)
  const started = Date.now()
  try {
    const toolchain = await toolchainSetup
    const { container, transcript } = await withAgentWorkspace(input, () =>
      runAgent(input, doors, apiDoor, toolchain)
    )
    if (container.exitCode === 65 && !transcript.result) {
      // The entrypoint did not find the gateway's socket: explain why (Docker-in-Docker,
      // usually). Checked only here, so a normal run does not pay for the probe container.
      await checkDaemonSeesDirectory(paths.socketDir, image.ref, { runId: paths.runId })
    }
    return {
      container,
      transcript,
      gatewayRequests: doors.gateway.entries.length,
      api: doors.gateway.figures(),
      durationMs: Date.now() - started,
      deniedHosts: doors.proxy?.deniedHosts() ?? [],
      deniedHostsOmitted: doors.proxy?.deniedHostsOmitted ?? 0
    }
  } finally {
    await doors.close()
  }
}

/** A toolchain check that fails can only drop tools; this bounds the restarts regardless. */
const MAX_TOOL_CHECK_RESTARTS = 3

/**
 * The agent's container, started at once with the job's toolchain on PATH. Its entrypoint checks
 * the tools before the CLI starts (tool-probe.ts); when some fail it stops there, and the
 * container is started again without them, with one warning. A restart is taken only when the
 * CLI never reached the gateway: until its first answer the agent has done nothing.
 */
async function runAgent(
  input: SessionInput,
  doors: Doors,
  apiDoor: ApiDoor,
  toolchain: ToolchainSetup
): Promise<{ container: ContainerOutcome; transcript: TranscriptReader }> {
  const { settings, paths } = input
  const { sandbox, task } = settings
  let setup = toolchain
  for (let restarts = 0; ; restarts++) {
    if (setup.probe)
      writeFileSync(path.join(paths.socketDir, TOOL_PROBE_FILE), setup.probe, { mode: 0o644 })
    const spec = containerSpec(input, doors.proxy !== undefined, doors.caBundleName, setup)
    const requestsBefore = doors.gateway.entries.length
    const probeLines: string[] = []
    const transcript = new TranscriptReader(paths.executionFile, line => core.info(line))
    core.startGroup(
      `Claude Code in the sandbox (${sandbox.network} network, timeout ${task.timeoutMs / 60000} min)`
    )
    let container: ContainerOutcome
    try {
      container = await withDiskGuard(
        { workspace: sandbox.workspace, floor: sandbox.minFreeDisk },
        input.cancel,
        cancel =>
          runContainer({
            name: spec.name,
            args: dockerRunArgs(spec),
            clientEnv: clientEnvForRun(spec),
            stdin: task.prompt,
            onStdout: chunk => transcript.write(chunk),
            onStderrLine: line => {
              if (setup.probe && isProbeLine(line)) probeLines.push(line)
              else core.info(`[stderr] ${line}`)
            },
            timeoutMs: task.timeoutMs,
            cancel: AbortSignal.any([cancel, apiDoor.stop])
          })
      )
    } finally {
      core.endGroup()
      await transcript.close()
    }
    const broken =
      container.exitCode === TOOL_PROBE_EXIT &&
      !transcript.result &&
      doors.gateway.entries.length === requestsBefore
        ? failedProbes(probeLines, setup.toolchains)
        : []
    if (broken.length === 0 || restarts >= MAX_TOOL_CHECK_RESTARTS) return { container, transcript }
    core.warning(brokenToolsWarning(broken))
    setup = setup.without(broken.map(probe => probe.toolchain))
  }
}

/**
 * What of the job's toolchain the agent gets: the runner's tool cache, the PATH entries and
 * variables that point into it, and the check of its tools the entrypoint runs.
 */
function sessionToolchain(input: SessionInput): Promise<ToolchainSetup> {
  const { settings, paths, image } = input
  return prepareToolchain({
    enabled: settings.sandbox.runnerToolCache,
    workspace: settings.sandbox.workspace,
    image: image.ref,
    home: IMAGE_USER.home,
    // The tool cache is left out when mounting it would expose one of these.
    hostPrivate: [
      process.env.RUNNER_TEMP ?? '',
      os.homedir(),
      paths.workDir,
      '/var/run/docker.sock'
    ].filter(Boolean),
    log: { info: message => core.info(message), warning: message => core.warning(message) }
  })
}

/** Only the certificate blocks of `ca-certificates`, whatever else the file holds. */
function sandboxCaBundle(settings: Settings): string | undefined {
  return settings.image.caCertificates
    ? certificateBlocks(readFileSync(settings.image.caCertificates, 'utf8')).join('\n')
    : undefined
}

interface Doors {
  gateway: Gateway
  proxy?: EgressProxy
  /** Name of the CA bundle written beside the sockets, when there is one. */
  caBundleName?: string
  /** Stops both servers and writes their logs beside the patch. */
  close: () => Promise<void>
}

/** Starts the credential gateway and, in restricted mode, the egress proxy, on Unix sockets. */
async function openDoors(
  settings: Settings,
  paths: RunPaths,
  apiDoor: ApiDoor,
  provider: UpstreamProvider,
  caPem?: string
): Promise<Doors> {
  const { sandbox, credentials } = settings
  const gatewayLines: string[] = []
  // Self-hosted runners may reach the API only through a proxy, and a TLS-inspecting one's CA.
  const upstreamProxy = upstreamProxyFor(credentials.baseUrl)
  if (upstreamProxy)
    core.info(
      `The gateway reaches ${credentials.baseUrl} through the proxy ${new URL(upstreamProxy).host}`
    )
  const gateway = await startGateway({
    socketPath: path.join(paths.socketDir, GATEWAY_SOCKET),
    upstream: credentials.baseUrl,
    upstreamProxy,
    upstreamCa: caPem,
    provider,
    log: entry => gatewayLines.push(JSON.stringify(entry)),
    ...apiDoor.gatewayOptions
  })
  const networkLines: string[] = []
  let proxy: EgressProxy | undefined
  try {
    if (sandbox.network === 'restricted') {
      proxy = await startEgressProxy({
        socketPath: path.join(paths.socketDir, PROXY_SOCKET),
        allowList: parseAllowedDomains(sandbox.allowedDomains),
        // When an allowed connection ends: its address, bytes, duration and any error.
        logEnd: entry => networkLines.push(JSON.stringify({ ...entry, event: 'end' })),
        log: entry => {
          networkLines.push(JSON.stringify(entry))
          const verdict = entry.allowed ? 'allowed' : `denied (${entry.reason ?? 'policy'})`
          core.info(`🌐 ${entry.method} ${entry.host}:${entry.port} ${verdict}`)
        }
      })
    }
  } catch (error: unknown) {
    await gateway.close()
    throw error
  }
  let caBundleName: string | undefined
  if (caPem) {
    caBundleName = 'ca-bundle.pem'
    // Trusted in addition to the public roots, as the input promises: git, pip and curl read one
    // bundle, and the image keeps no per-certificate directory to fall back on. Node's copy of
    // the Mozilla roots stands in for the system's.
    const bundle = [...tls.rootCertificates, caPem].join('\n')
    writeFileSync(path.join(paths.socketDir, caBundleName), `${bundle}\n`, { mode: 0o644 })
  }
  const started = proxy
  return {
    gateway,
    proxy,
    caBundleName,
    close: async () => {
      await gateway.close()
      await started?.close()
      writeFileSync(paths.gatewayLog, jsonLines(gatewayLines))
      if (started) writeFileSync(paths.networkLog, jsonLines(networkLines))
    }
  }
}

function jsonLines(lines: string[]): string {
  return lines.join('\n') + (lines.length ? '\n' : '')
}

/** The hardened container's specification for this run (see run-args.ts for the arguments). */
function containerSpec(
  input: SessionInput,
  proxy: boolean,
  caBundleName: string | undefined,
  toolchain: ToolchainSetup
): ContainerSpec {
  const { settings, paths } = input
  const { sandbox, task, credentials, publish } = settings
  return {
    name: `claude-sandbox-${paths.runId}`,
    runId: paths.runId,
    image: input.image.ref,
    workspace: sandbox.workspace,
    gitPath: input.gitPath,
    socketDir: paths.socketDir,
    user: agentUser().user,
    home: IMAGE_USER.home,
    network: sandbox.network,
    proxy,
    memory: sandbox.memory,
    cpus: sandbox.cpus,
    pidsLimit: sandbox.pidsLimit,
    userEnv: sandbox.env,
    credentialKind: credentials.apiKey ? 'api-key' : 'oauth',
    caBundleName,
    cliBinary: input.image.cli,
    toolCache: toolchain.toolCache,
    workspaceAlias: toolchain.workspaceAlias,
    toolchainEnv: toolchain.env,
    ...(toolchain.probe ? { toolProbe: TOOL_PROBE_FILE } : {}),
    overlays: input.shield?.overlays,
    providerEnv: providerCliEnv(credentials, `http://127.0.0.1:${GATEWAY_PORT}`),
    ...(input.sessionDir ? { sessionDir: input.sessionDir } : {}),
    command: claudeArgs(task, {
      network: sandbox.network,
      allowedDomains: parseAllowedDomains(sandbox.allowedDomains).entries.map(e => e.source),
      protectedPaths: publish.protectedPaths,
      toolchains: toolchain.toolchains.map(noteToolchain),
      availableToolchains: toolchain.available.map(noteToolchain),
      workspaceAlias: toolchain.workspaceAlias,
      hiddenFiles: input.shield?.hiddenFiles.map(file => file.path),
      gitConfigSanitised: (input.shield?.gitConfigRemoved.length ?? 0) > 0
    })
  }
}

function noteToolchain(toolchain: Toolchain): NoteToolchain {
  return {
    tool: toolchain.tool,
    version: toolchain.version,
    binDir: toolchain.pathEntries[0] ?? toolchain.dir
  }
}

/**
 * Runs `agent` with the working tree prepared for it: on pull requests the agent's own
 * configuration swapped for the base branch's, and on root runners the tree lent to the image's
 * user. Both are undone before this returns, before the patch is made, so neither ever shows up
 * as a change.
 */
async function withAgentWorkspace<T>(input: SessionInput, agent: () => Promise<T>): Promise<T> {
  const { settings, decision } = input
  const workspace = settings.sandbox.workspace
  // On pull requests the agent's own configuration comes from the base branch, not the PR head.
  const configSwap = decision.pullRequest
    ? await useBaseBranchAgentConfig(workspace, decision.pullRequest.baseSha, {
        token: settings.publish.githubToken
      })
    : undefined
  if (configSwap && configSwap.entries.length > 0) {
    core.info(
      `Agent configuration from the base branch: ${configSwap.entries.map(e => e.path).join(', ')}`
    )
  }
  try {
    const owner = agentUser().lendWorkspace
      ? await lendWorkspaceTo(workspace, agentUser().user)
      : undefined
    if (owner) core.saveState(State.workspaceOwner, `${owner.uid}:${owner.gid}`)
    try {
      return await agent()
    } finally {
      if (owner) {
        await returnWorkspace(workspace, owner)
        core.saveState(State.workspaceOwner, '')
      }
    }
  } finally {
    if (configSwap) {
      const restored = await restoreHeadAgentConfig(workspace, configSwap)
      if (restored.discarded.length > 0) {
        core.warning(
          `The agent's changes to its own configuration were dropped: ${restored.discarded.join(', ')}`
        )
      }
    }
  }
}
