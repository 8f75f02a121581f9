import * as core from '@actions/core'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { decideOutcome, type AgentOutcome } from './agent/result.js'
import { Outputs, State } from './constants.js'
import { keepConversation, openConversation } from './continuation/conversation.js'
import type { CommentThread } from './continuation/thread.js'
import { requireDockerDaemon } from './docker.js'
import { ConfigurationError, errorMessage } from './errors.js'
import { createPatch, type PatchResult } from './git/patch.js'
import { describeLeftOut } from './git/patch-preamble.js'
import { snapshotUntracked } from './git/untracked-baseline.js'
import { postProgressComment } from './github/progress-comment.js'
import { requirePublishTarget } from './github/context.js'
import type { PublishResult } from './github/publish.js'
import { prepareImage, type PreparedImage } from './image/prepare.js'
import { actionRoot, getSettings, requireCredentials } from './inputs.js'
import { openProvider } from './api-door/providers/open.js'
import { setResultOutputs } from './outputs.js'
import { publishResult } from './publish-step.js'
import { uploadResultArtifact } from './report/artifact.js'
import { writeJobSummary, type JobSummaryInput } from './report/job-summary.js'
import { createRunPaths, newRunId, type RunPaths } from './run-paths.js'
import { runSandboxSession } from './sandbox/session.js'
import { requireGitPath } from './sandbox/workspace.js'
import type { Settings } from './settings.js'
import { resolveTask } from './task.js'
import { shieldCredentials } from './credentials/shield.js'
import { knownSecretsForRun, redactStepSummary, screenRunResult } from './secrets/run-scan.js'
import type { KnownSecrets } from './secrets/scan.js'
import type { TriggerDecision } from './triggers/event.js'
import { decideRun } from './triggers/gate.js'

/** The main step. The only place that fails the step. */
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

/**
 * A run, phase by phase: settings -> trigger -> task -> preconditions -> conversation -> image
 * (with the credential shield) -> sandbox session -> outcome -> saved session -> patch -> secret
 * scan -> artifact -> publish -> summary. Each phase is a call into the
 * module that owns it. Returns undefined when the trigger says not to run.
 */
async function runAction(cancel: AbortSignal): Promise<AgentOutcome | undefined> {
  const settings = readSettings()
  const decision = await decideRun(settings)
  if (!decision.run) {
    core.notice(decision.reason)
    return undefined
  }
  core.info(decision.reason)
  settings.task.prompt = await resolveTask(settings, decision)
  requireCredentials(settings)
  const provider = await openProvider(settings.credentials, {
    caFile: settings.image.caCertificates
  })
  requirePublishTarget(settings.publish.mode)
  const gitPath = requireGitPath(settings.sandbox.workspace)
  core.info(`Docker engine ${await requireDockerDaemon()}`)

  const paths = createRunPaths(newRunId())
  core.saveState(State.runId, paths.runId)
  core.saveState(State.runDir, paths.workDir)
  core.saveState(State.workspace, settings.sandbox.workspace)
  // A follow-up on the same pull request or issue resumes the saved session (`continue`).
  const conversation = await openConversation({ settings, decision, paths })
  // publish: comment says "working…" at once; the result (or the failure) replaces it.
  const progress = await postProgressComment(settings, process.env, conversation.thread)
  try {
    // Three independent phases side by side (none writes to the working tree): the image; what
    // the job's earlier steps left untracked (theirs, not the agent's change); and the shield
    // that keeps the working tree's credentials (git config, credential files) out of the
    // container.
    const [image, untrackedBefore, shield] = await Promise.all([
      prepareRunImage(settings, decision, paths),
      snapshotUntracked(settings.sandbox.workspace),
      shieldCredentials(settings.sandbox.workspace, gitPath, paths.workDir, core)
    ])
    core.setOutput(Outputs.imageId, image.id)
    core.setOutput(Outputs.cacheHit, String(image.cacheHit))
    const known = knownSecretsForRun(settings, shield.secrets)
    const session = await runSandboxSession({
      settings,
      paths,
      gitPath,
      image,
      decision,
      cancel,
      shield,
      provider,
      sessionDir: conversation.projectsDir
    })
    const { sandbox, task } = settings
    const agentOutcome = decideOutcome(
      session.container,
      session.transcript.result,
      session.transcript.lastAssistantText,
      { timeoutMs: task.timeoutMs, memory: sandbox.memory, pidsLimit: sandbox.pidsLimit },
      session.transcript.sessionId,
      { api: session.api, durationMs: session.durationMs }
    )
    const conversationMarkdown = await keepConversation(conversation, {
      settings,
      known,
      api: session.api,
      paths
    })
    const patch = await createPatch(sandbox.workspace, paths.patchPath, {
      maxFileBytes: settings.publish.maxFileBytes,
      untrackedBefore,
      exclude: shield.hiddenFiles.map(file => file.path)
    })
    // Before anything leaves the run: the secret scan (outputs and summary get redacted text).
    const { outcome, redact } = await screenRunResult(settings, known, agentOutcome, patch, paths)
    reportChange(outcome, patch)
    setResultOutputs(outcome, patch, paths)
    const artifact = await uploadResultArtifact(settings.artifact, paths)

    await publishAndReport({
      settings,
      known,
      outcome,
      patch,
      paths,
      image,
      session,
      artifact,
      redact,
      conversationMarkdown,
      thread: conversation.thread
    })
    return outcome
  } catch (error: unknown) {
    await progress?.fail(error)
    throw error
  } finally {
    rmSync(paths.workDir, { recursive: true, force: true })
  }
}

/** The agent image for this run (built, restored, pulled or present; see image/prepare.ts). */
function prepareRunImage(
  settings: Settings,
  decision: TriggerDecision,
  paths: RunPaths
): Promise<PreparedImage> {
  return prepareImage(
    settings.image,
    settings.task.claudeCodeVersion,
    paths.workDir,
    path.join(actionRoot(), 'docker'),
    buildLog,
    {
      workspace: settings.sandbox.workspace,
      baseSha: decision.pullRequest?.baseSha,
      runId: paths.runId
    }
  )
}

/**
 * Publishes, then writes the job summary. A refused publish fails the step, but only after the
 * summary: nothing produced is lost.
 */
async function publishAndReport(
  input: Omit<JobSummaryInput, 'published'> & {
    settings: Settings
    known: KnownSecrets
    redact: (text: string) => string
    thread?: CommentThread
  }
): Promise<void> {
  const { settings, known, redact, thread, ...report } = input
  let published: PublishResult | undefined
  let publishError: unknown
  try {
    published = await publishResult(
      settings,
      report.patch,
      report.outcome,
      report.paths,
      report.artifact,
      known,
      thread
    )
  } catch (error: unknown) {
    publishError = error
  }
  await writeJobSummary({
    ...report,
    published:
      published?.message ??
      (publishError ? `not published: ${errorMessage(publishError)}` : undefined)
  })
  await redactStepSummary(redact)
  if (publishError) throw publishError
}

/** Settings from the inputs, with every secret masked in the log before anything else runs. */
function readSettings(): Settings {
  const settings = getSettings(name => core.getInput(name))
  for (const secret of [
    settings.credentials.apiKey,
    settings.credentials.oauthToken,
    settings.publish.githubToken
  ]) {
    if (secret) core.setSecret(secret)
  }
  return settings
}

/** The log's account of the outcome and of what the agent changed. */
function reportChange(outcome: AgentOutcome, patch: PatchResult): void {
  if (patch.embeddedRepositories.length > 0) {
    core.warning(
      `Not in the patch: the agent created nested git repositories (${patch.embeddedRepositories.join(', ')}); their files were left out`
    )
  }
  if (patch.leftOut.length > 0) core.warning(describeLeftOut(patch.leftOut))
  if (patch.preexistingUntracked > 0) {
    core.info(
      `Not in the patch: ${patch.preexistingUntracked} untracked file(s) that were there before the agent ran and that it did not touch (what earlier steps of the job wrote)`
    )
  }
  core.info(`${outcome.conclusion}: ${outcome.message}`)
  core.info(
    patch.hasChanges
      ? `The agent changed ${patch.files.length} file(s) (+${patch.insertions} −${patch.deletions}); patch: ${patch.patchPath}`
      : 'The agent changed nothing.'
  )
}

const buildLog = {
  info: (message: string) => core.info(message),
  warning: (message: string) => core.warning(message),
  notice: (message: string) => core.notice(message),
  startGroup: (name: string) => core.startGroup(name),
  endGroup: () => core.endGroup()
}
