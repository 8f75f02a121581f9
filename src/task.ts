import type { Settings } from './settings.js'
import { requirePrompt } from './inputs.js'
import { readPromptFile } from './prompt-file.js'
import type { TriggerDecision } from './triggers/event.js'
import { buildPrompt } from './triggers/prompt.js'

/**
 * The prompt the agent gets: `prompt`, or `prompt-file` read from the commit (the pull request's
 * base on pull-request events), with the event's untrusted text appended in a delimited block.
 */
export async function resolveTask(settings: Settings, decision: TriggerDecision): Promise<string> {
  let prompt = settings.task.prompt
  if (settings.task.promptFile) {
    prompt = await readPromptFile(
      settings.sandbox.workspace,
      settings.task.promptFile,
      decision.pullRequest?.baseSha
    )
  }
  requirePrompt(prompt, decision.untrusted.length > 0)
  return buildPrompt(prompt, decision)
}
