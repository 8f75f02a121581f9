/**
 * How a run that the API door stopped is told (pure). The gateway answers a refusal as the API
 * answers a request it will not take (400 `invalid_request_error`), so the CLI ends with
 * `API Error: 400 claude-sandbox gateway refused the request: …`. The step's error says which
 * rule refused it and what to do, so nobody goes looking for a credential problem.
 */
import { supportedRange } from '../agent/cli-versions.js'
import type { ApiFigures } from './api-ledger.js'
import { REFUSAL_PREFIX } from './api-policy.js'

/**
 * The step's error when the CLI stopped on one of the gateway's refusals, or undefined when its
 * API error was something else. `cliError` is the CLI's result text (`API Error: 400 …`).
 */
export function doorRefusalMessage(api: ApiFigures, cliError: string): string | undefined {
  if (api.refused.length === 0 || !cliError.includes(REFUSAL_PREFIX)) return undefined
  const said = cliError.slice(cliError.indexOf(REFUSAL_PREFIX))
  // The refusal the CLI stopped on; else the most frequent one (the list is sorted by count).
  const group = api.refused.find(entry => said.startsWith(entry.reason)) ?? api.refused[0]
  if (!group) return undefined
  const what = group.reason.startsWith(REFUSAL_PREFIX)
    ? group.reason.slice(REFUSAL_PREFIX.length)
    : group.reason
  return (
    `The API door refused Claude Code’s request (rule \`${group.rule}\`: ${what}); the agent stopped. ` +
    `This is the sandbox's request policy, not a credential problem. ` +
    `If the task asked for that feature, it is not available in the sandbox (see the README, "The API door"); ` +
    `if Claude Code sent it by itself, use a \`claude-code-version\` from ${supportedRange()}, the versions the door was checked against`
  )
}
