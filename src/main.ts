import * as core from '@actions/core'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { claudeArgs } from './agent/claude-args.js'
import { decideOutcome, type AgentOutcome, type ContainerOutcome } from './agent/result.js'
import { TranscriptReader } from './agent/stream.js'
import { GATEWAY_SOCKET, IMAGE_USER, Outputs, PROXY_SOCKET, State } from './constants.js'
import { requireDockerDaemon } from './docker.js'
import { ConfigurationError, errorMessage } from './errors.js'
import { createPatch, type PatchResult } from './git/patch.js'
import { prepareImage, type PreparedImage } from './image/prepare.js'
import {
  actionRoot,
  certificateBlocks,
  getSettings,
  requireCredentials,
  requirePrompt
} from './inputs.js'
import { contextFromEnv, publishesFor, resolvePublishMode } from './github/context.js'
import { publish, type PublishResult } from './github/publish.js'
import { renderPatchSummary } from './report/comment.js'
import { formatDeniedHosts } from './report/denied-hosts.js'
import { renderSummary } from './report/summary.js'
import { createRunPaths, newRunId, type RunPaths } from './run-paths.js'
import { parseAllowedDomains } from './sandbox/allow-list.js'
import { runContainer } from './sandbox/container.js'
import { checkDaemonSeesDirectory } from './sandbox/daemon-visibility.js'
import { startGateway, type Gateway } from './sandbox/gateway.js'
import { upstreamProxyFor } from './sandbox/upstream-proxy.js'
import { startEgressProxy, type EgressProxy } from './sandbox/proxy.js'
import { clientEnvForRun, dockerRunArgs, type ContainerSpec } from './sandbox/run-args.js'
import { agentUser, lendWorkspaceTo, requireGitPath, returnWorkspace } from './sandbox/workspace.js'
import { readPromptFile } from './prompt-file.js'
import type { Settings } from './settings.js'
import { restoreHeadAgentConfig, useBaseBranchAgentConfig } from './triggers/base-config.js'
import type { TriggerDecision } from './triggers/event.js'
import { decideRun } from './triggers/gate.js'
import { buildPrompt } from './triggers/prompt.js'

const buildLog = {
  info: (message: string) => core.info(message),
  warning: (message: string) => core.warning(message),
  startGroup: (name: string) => core.startGroup(name),
  endGroup: () => core.endGroup()
}

/** The main step: inputs -> image -> sandbox -> patch -> publish. The only place that fails the step. */
export async function run(): Promise<void> {
  core.saveState(State.isPost, 'true')
  const cancel = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    core.warning(`Received ${signal}: stopping the agent and keeping what it produced`)
    cancel.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const outcome = await runAction(cancel.signal)
    if (outcome && outcome.conclusion !== 'success') core.setFailed(outcome.message)
  } catch (error: unknown) {
    if (!(error instanceof ConfigurationError) && error instanceof Error && error.stack)
      core.debug(error.stack)
    core.setFailed(errorMessage(error))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function runAction(cancel: AbortSignal): Promise<AgentOutcome | undefined> {
  const settings = getSettings(name => core.getInput(name))
  for (const secret of [
    settings.credentials.apiKey,
    settings.credentials.oauthToken,
    settings.publish.githubToken
  ]) {
    if (secret) core.setSecret(secret)
  }
  const decision = await decideRun(settings)
  if (!decision.run) {
    core.notice(decision.reason)
    return undefined
  }
  core.info(decision.reason)
  if (settings.task.promptFile) {
    settings.task.prompt = await readPromptFile(
      settings.sandbox.workspace,
      settings.task.promptFile,
      decision.pullRequest?.baseSha
    )
  }
  requirePrompt(settings.task.prompt, decision.untrusted.length > 0)
  settings.task.prompt = buildPrompt(settings.task.prompt, decision)
  requireCredentials(settings)
  const gitPath = requireGitPath(settings.sandbox.workspace)
  const dockerVersion = await requireDockerDaemon()
  core.info(`Docker engine ${dockerVersion}`)

  const paths = createRunPaths(newRunId())
  core.saveState(State.runId, paths.runId)
  core.saveState(State.runDir, paths.workDir)
  core.saveState(State.workspace, settings.sandbox.workspace)
  try {
    const image = await prepareImage(
      settings.image,
      settings.task.claudeCodeVersion,
      paths.workDir,
      path.join(actionRoot(), 'docker'),
      buildLog,
      { workspace: settings.sandbox.workspace, baseSha: decision.pullRequest?.baseSha }
    )
    core.setOutput(Outputs.imageId, image.id)
    core.setOutput(Outputs.cacheHit, String(image.cacheHit))
    return await runAgentAndCollect(settings, paths, gitPath, image, cancel, decision)
  } finally {
    rmSync(paths.workDir, { recursive: true, force: true })
  }
}

async function runAgentAndCollect(
  settings: Settings,
  paths: RunPaths,
  gitPath: string,
  image: PreparedImage,
  cancel: AbortSignal,
  decision: TriggerDecision
): Promise<AgentOutcome> {
  const { sandbox, task, credentials } = settings
  const gatewayLines: string[] = []
  // Only the certificate blocks of `ca-certificates`, whatever else the file holds.
  const caPem = settings.image.caCertificates
    ? certificateBlocks(readFileSync(settings.image.caCertificates, 'utf8')).join('\n')
    : undefined
  // Self-hosted runners may reach the API only through a proxy, and a TLS-inspecting one's CA.
  const upstreamProxy = upstreamProxyFor(credentials.baseUrl)
  if (upstreamProxy)
    core.info(
      `The gateway reaches ${credentials.baseUrl} through the proxy ${new URL(upstreamProxy).host}`
    )
  const gateway: Gateway = await startGateway({
    socketPath: path.join(paths.socketDir, GATEWAY_SOCKET),
    upstream: credentials.baseUrl,
    upstreamProxy,
    upstreamCa: caPem,
    credentials: { apiKey: credentials.apiKey, oauthToken: credentials.oauthToken },
    log: entry => gatewayLines.push(JSON.stringify(entry))
  })
  let proxy: EgressProxy | undefined
  const networkLines: string[] = []
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
  let caBundleName: string | undefined
  if (caPem) {
    caBundleName = 'ca-bundle.pem'
    writeFileSync(path.join(paths.socketDir, caBundleName), `${caPem}\n`, { mode: 0o644 })
  }

  const { user, lendWorkspace } = agentUser()
  const spec: ContainerSpec = {
    name: `claude-sandbox-${paths.runId}`,
    runId: paths.runId,
    image: image.ref,
    workspace: sandbox.workspace,
    gitPath,
    socketDir: paths.socketDir,
    user,
    home: IMAGE_USER.home,
    network: sandbox.network,
    proxy: proxy !== undefined,
    memory: sandbox.memory,
    cpus: sandbox.cpus,
    pidsLimit: sandbox.pidsLimit,
    userEnv: sandbox.env,
    credentialKind: credentials.apiKey ? 'api-key' : 'oauth',
    caBundleName,
    cliBinary: image.cli,
    command: claudeArgs(task, sandbox.network)
  }

  const transcript = new TranscriptReader(paths.executionFile, line => core.info(line))
  let container: ContainerOutcome
  // On pull requests the agent's own configuration comes from the base branch, not the PR head.
  const configSwap = decision.pullRequest
    ? await useBaseBranchAgentConfig(sandbox.workspace, decision.pullRequest.baseSha, {
        token: settings.publish.githubToken
      })
    : undefined
  if (configSwap && configSwap.entries.length > 0) {
    core.info(
      `Agent configuration from the base branch: ${configSwap.entries.map(e => e.path).join(', ')}`
    )
  }
  const owner = lendWorkspace ? await lendWorkspaceTo(sandbox.workspace, user) : undefined
  if (owner) core.saveState(State.workspaceOwner, `${owner.uid}:${owner.gid}`)
  core.startGroup(
    `Claude Code in the sandbox (${sandbox.network} network, timeout ${task.timeoutMs / 60000} min)`
  )
  try {
    container = await runContainer({
      name: spec.name,
      args: dockerRunArgs(spec),
      clientEnv: clientEnvForRun(spec),
      stdin: task.prompt,
      onStdout: chunk => transcript.write(chunk),
      onStderrLine: line => core.info(`[stderr] ${line}`),
      timeoutMs: task.timeoutMs,
      cancel
    })
  } finally {
    core.endGroup()
    await transcript.close()
    if (owner) {
      await returnWorkspace(sandbox.workspace, owner)
      core.saveState(State.workspaceOwner, '')
    }
    if (configSwap) {
      // Before the patch is made, so the swap itself never shows up as a change.
      const restored = await restoreHeadAgentConfig(sandbox.workspace, configSwap)
      if (restored.discarded.length > 0) {
        core.warning(
          `The agent's changes to its own configuration were dropped: ${restored.discarded.join(', ')}`
        )
      }
    }
    await gateway.close()
    await proxy?.close()
    writeFileSync(paths.gatewayLog, gatewayLines.join('\n') + (gatewayLines.length ? '\n' : ''))
    if (proxy)
      writeFileSync(paths.networkLog, networkLines.join('\n') + (networkLines.length ? '\n' : ''))
  }

  if (container.exitCode === 65 && !transcript.result) {
    // The entrypoint did not find the gateway's socket: explain why (Docker-in-Docker, usually).
    // Checked only here, so a normal run does not pay for the probe container.
    await checkDaemonSeesDirectory(paths.socketDir, image.ref, { runId: paths.runId })
  }
  const outcome = decideOutcome(
    container,
    transcript.result,
    transcript.lastAssistantText,
    { timeoutMs: task.timeoutMs, memory: sandbox.memory, pidsLimit: sandbox.pidsLimit },
    transcript.sessionId
  )
  const patch = await createPatch(sandbox.workspace, paths.patchPath)
  if (patch.embeddedRepositories.length > 0) {
    core.warning(
      `Not in the patch: the agent created nested git repositories (${patch.embeddedRepositories.join(', ')}); their files were left out`
    )
  }
  setResultOutputs(outcome, patch, paths)
  core.info(`${outcome.conclusion}: ${outcome.message}`)
  core.info(
    patch.hasChanges
      ? `The agent changed ${patch.files.length} file(s) (+${patch.insertions} −${patch.deletions}); patch: ${patch.patchPath}`
      : 'The agent changed nothing.'
  )

  let published: PublishResult | undefined
  let publishError: unknown
  try {
    published = await publishResult(settings, patch, outcome, paths)
  } catch (error: unknown) {
    publishError = error
  }

  const denied = proxy?.deniedHosts() ?? []
  await core.summary
    .addRaw(
      renderSummary({
        outcome,
        files: patch.files,
        insertions: patch.insertions,
        deletions: patch.deletions,
        patchPath: existsSync(patch.patchPath) ? patch.patchPath : undefined,
        executionFile: paths.executionFile,
        image: {
          id: image.id,
          cacheHit: image.cacheHit,
          setupMs: image.setupMs,
          built: image.built
        },
        deniedHostsMarkdown: formatDeniedHosts(denied, { omitted: proxy?.deniedHostsOmitted ?? 0 }),
        gatewayRequests: gateway.entries.length,
        published:
          published?.message ??
          (publishError ? `not published: ${errorMessage(publishError)}` : undefined)
      }) +
        renderPatchSummary(existsSync(patch.patchPath) ? readFileSync(patch.patchPath, 'utf8') : '')
    )
    .write()
    .catch((error: unknown) =>
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    )
  // A refused publish fails the step, but only now: the patch, transcript and summary are kept.
  if (publishError) throw publishError
  return outcome
}

/** Publishes the result, as publishesFor allows for the conclusion. */
async function publishResult(
  settings: Settings,
  patch: PatchResult,
  outcome: AgentOutcome,
  paths: RunPaths
): Promise<PublishResult | undefined> {
  if (settings.publish.mode === 'patch') return undefined
  const context = contextFromEnv()
  const mode = resolvePublishMode(settings.publish.mode, context)
  if (mode === 'patch') return undefined
  if (!publishesFor(mode, outcome.conclusion)) {
    core.warning(
      `Not publishing a ${mode}: the agent did not succeed (${outcome.conclusion}); the partial patch is kept at ${patch.patchPath}`
    )
    return undefined
  }
  core.startGroup(`Publishing (${mode})`)
  try {
    const result = await publish({
      mode,
      workspace: settings.sandbox.workspace,
      patchPath: patch.patchPath,
      report: { ...outcome, outcomeMessage: outcome.message, executionFile: paths.executionFile },
      settings: settings.publish,
      context,
      log: { info: message => core.info(message), warning: message => core.warning(message) }
    })
    for (const warning of result.warnings) core.warning(warning)
    core.info(result.message)
    const outputs: Array<[string, string | number | undefined]> = [
      [Outputs.commentUrl, result.commentUrl],
      [Outputs.commitSha, result.commitSha],
      [Outputs.pullRequestUrl, result.pullRequestUrl],
      [Outputs.pullRequestNumber, result.pullRequestNumber]
    ]
    for (const [name, value] of outputs)
      if (value !== undefined) core.setOutput(name, String(value))
    return result
  } finally {
    core.endGroup()
  }
}

function setResultOutputs(outcome: AgentOutcome, patch: PatchResult, paths: RunPaths): void {
  const outputs: Record<string, string | number | undefined> = {
    [Outputs.conclusion]: outcome.conclusion,
    [Outputs.hasChanges]: String(patch.hasChanges),
    [Outputs.changedFiles]: patch.files.length,
    [Outputs.insertions]: patch.insertions,
    [Outputs.deletions]: patch.deletions,
    [Outputs.patchPath]: patch.patchPath,
    [Outputs.executionFile]: paths.executionFile,
    [Outputs.finalMessage]: outcome.finalMessage,
    [Outputs.sessionId]: outcome.sessionId,
    [Outputs.numTurns]: outcome.numTurns,
    [Outputs.durationMs]: outcome.durationMs,
    [Outputs.costUsd]: outcome.costUsd,
    [Outputs.inputTokens]: outcome.inputTokens,
    [Outputs.outputTokens]: outcome.outputTokens
  }
  for (const [name, value] of Object.entries(outputs)) {
    if (value !== undefined) core.setOutput(name, String(value))
  }
}
