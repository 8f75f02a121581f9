import * as core from '@actions/core'
import type { AgentOutcome } from './agent/result.js'
import { Outputs } from './constants.js'
import type { PatchResult } from './git/patch.js'
import type { PublishResult } from './github/publish.js'
import type { RunPaths } from './run-paths.js'

type OutputValue = string | number | undefined

/** Sets every output that has a value; an absent figure stays absent rather than "undefined". */
function setOutputs(outputs: Record<string, OutputValue>): void {
  for (const [name, value] of Object.entries(outputs)) {
    if (value !== undefined) core.setOutput(name, String(value))
  }
}

/** The agent's verdict, its figures and the size of its change. */
export function setResultOutputs(outcome: AgentOutcome, patch: PatchResult, paths: RunPaths): void {
  setOutputs({
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
  })
}

/** Where the result was published. */
export function setPublishOutputs(result: PublishResult): void {
  setOutputs({
    [Outputs.commentUrl]: result.commentUrl,
    [Outputs.commitSha]: result.commitSha,
    [Outputs.pullRequestUrl]: result.pullRequestUrl,
    [Outputs.pullRequestNumber]: result.pullRequestNumber
  })
}
