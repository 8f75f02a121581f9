import * as core from '@actions/core'
import type { AgentOutcome } from './agent/result.js'
import type { PatchResult } from './git/patch.js'
import { contextFromEnv, publishesFor, resolvePublishMode } from './github/context.js'
import type { PublishResult } from './github/publish.js'
import { setPublishOutputs } from './outputs.js'
import type { ArtifactOutcome } from './report/artifact.js'
import type { RunPaths } from './run-paths.js'
import type { Settings } from './settings.js'
import type { KnownSecrets } from './secrets/scan.js'
import { secretScanSettings } from './secrets/run-scan.js'
import type { CommentThread } from './continuation/thread.js'

/**
 * The main step's publishing phase: resolves `auto`, applies the rule that only a successful
 * agent may commit or open a pull request (a comment always reports), publishes, and sets the
 * outputs. Returns undefined when nothing was to be published.
 */
export async function publishResult(
  settings: Settings,
  patch: PatchResult,
  outcome: AgentOutcome,
  paths: RunPaths,
  artifact?: ArtifactOutcome,
  known: KnownSecrets = { values: [] },
  thread?: CommentThread
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
    // Loaded only when publishing: the GitHub client is a measurable part of the action's start.
    const { publish } = await import('./github/publish.js')
    const result = await publish({
      mode,
      workspace: settings.sandbox.workspace,
      patchPath: patch.patchPath,
      report: {
        ...outcome,
        outcomeMessage: outcome.message,
        executionFile: paths.executionFile,
        ...(artifact?.uploaded ? { artifactName: artifact.name, artifactUrl: artifact.url } : {}),
        ...(thread ? { thread } : {})
      },
      settings: settings.publish,
      context,
      secrets: secretScanSettings(settings, known),
      log: { info: message => core.info(message), warning: message => core.warning(message) }
    })
    for (const warning of result.warnings) core.warning(warning)
    core.info(result.message)
    setPublishOutputs(result)
    return result
  } finally {
    core.endGroup()
  }
}
