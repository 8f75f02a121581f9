import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk'
import { conversationEnded, type ApiFigures } from '../api-door/api-ledger.js'
import { doorRefusalMessage } from '../api-door/refusal.js'

export type Conclusion = 'success' | 'failure' | 'timeout' | 'cancelled'

/** How the container ended, as seen from the host. */
export interface ContainerOutcome {
  exitCode: number
  timedOut: boolean
  cancelled: boolean
  oomKilled: boolean
  stderrTail: string
  /** The host stopped the run for this reason (the disk guard, the Docker daemon gone). */
  stopReason?: string
}

export interface AgentOutcome {
  conclusion: Conclusion
  /** One sentence for the log, the summary and the error line. */
  message: string
  finalMessage: string
  sessionId?: string
  numTurns?: number
  durationMs?: number
  costUsd?: number
  inputTokens?: number
  outputTokens?: number
  /** Set when the CLI's result line claimed success and the host saw otherwise: what differed. */
  disagreement?: string
}

/** What the host itself saw of the run: the gateway's figures and the container's wall time. */
export interface HostView {
  api: ApiFigures
  durationMs?: number
}

export interface OutcomeLimits {
  timeoutMs: number
  memory: string
  pidsLimit: number
}

function minutes(ms: number): string {
  const m = ms / 60_000
  return Number.isInteger(m) ? `${m}` : String(Number(m.toFixed(3)))
}

/**
 * Decides the conclusion from how the container ended, what the host saw (the gateway's figures)
 * and the CLI's result message. The result line is a claim: anything in the container can write
 * to the CLI's stdout. So the figures always come from the gateway, and `success` needs all of:
 * the CLI exited 0, its result says success, and the gateway saw the conversation end (its last
 * agent-loop answer was not a tool call). A success claim that disagrees is ignored: it becomes
 * neither the conclusion, nor the final message, nor the figures.
 */
export function decideOutcome(
  container: ContainerOutcome,
  result: SDKResultMessage | undefined,
  lastAssistantText: string | undefined,
  limits: OutcomeLimits,
  sessionId: string | undefined,
  host: HostView
): AgentOutcome {
  const claimsSuccess = result?.subtype === 'success' && !result.is_error
  const doubts: string[] = []
  if (claimsSuccess) {
    if (container.exitCode !== 0) doubts.push(`Claude Code exited with code ${container.exitCode}`)
    if (!conversationEnded(host.api)) {
      const last = host.api.lastTurnStopReason
      doubts.push(
        last === undefined
          ? 'the gateway saw no answered agent turn'
          : `the API's last answer did not end the conversation (stop_reason ${last})`
      )
    }
  }
  const disagreement = doubts.length > 0 ? doubts.join('; ') : undefined
  const base: AgentOutcome = {
    conclusion: 'failure',
    message: '',
    finalMessage:
      claimsSuccess && !disagreement
        ? result.result
        : disagreement
          ? ''
          : (lastAssistantText ?? ''),
    // The gateway's (from the CLI's first request) before any line of the CLI's stdout.
    sessionId: host.api.sessionId ?? (disagreement ? undefined : result?.session_id) ?? sessionId,
    numTurns: host.api.turns,
    durationMs: host.durationMs,
    costUsd: host.api.costUsd,
    inputTokens: host.api.inputTokens,
    outputTokens: host.api.outputTokens,
    ...(disagreement ? { disagreement } : {})
  }
  // First: reaching the cap is why the host stopped the container (as a cancellation would).
  const budget = host.api.budget
  if (budget?.reached) {
    return {
      ...base,
      conclusion: 'failure',
      message: `The spend cap max-budget-usd (${budget.capUsd}) was reached: $${host.api.costUsd.toFixed(4)} spent, counted by the gateway; further API requests were refused and the agent was stopped, its partial work kept. Raise \`max-budget-usd\` or narrow the task`
    }
  }
  if (container.cancelled) {
    return {
      ...base,
      conclusion: 'cancelled',
      message: 'The run was cancelled; the agent was stopped and its partial work kept'
    }
  }
  if (container.stopReason) return { ...base, conclusion: 'failure', message: container.stopReason }
  if (container.timedOut) {
    return {
      ...base,
      conclusion: 'timeout',
      message: `The agent did not finish within timeout-minutes (${minutes(limits.timeoutMs)}); it was stopped and its partial work kept. Raise \`timeout-minutes\` or narrow the task`
    }
  }
  if (container.oomKilled) {
    return {
      ...base,
      conclusion: 'failure',
      message: `The agent's container ran out of memory (limit memory: ${limits.memory}); a process was killed. Raise \`memory\` or make the task lighter`
    }
  }
  // A credentials problem is the provider's or the workflow's, not the agent's failing.
  const credentials = host.api.credentialsProblem
  if (credentials && !(claimsSuccess && !disagreement)) {
    return {
      ...base,
      conclusion: 'failure',
      message: `A credentials problem, not the agent's: ${credentials}. The agent's partial work is kept`
    }
  }
  if (result) {
    if (claimsSuccess && disagreement) {
      return {
        ...base,
        conclusion: 'failure',
        message: `Claude Code's result line claims success, but the host saw otherwise: ${disagreement}. The claim was ignored (conclusion, final message and figures come from the host); nothing is committed from this run`
      }
    }
    if (claimsSuccess) {
      return { ...base, conclusion: 'success', message: 'The agent finished' }
    }
    if (result.subtype === 'success') {
      // is_error with subtype success is how the CLI reports an API error (401, 529, ...).
      const refusal = doorRefusalMessage(host.api, result.result)
      if (refusal) return { ...base, conclusion: 'failure', message: refusal }
      return {
        ...base,
        conclusion: 'failure',
        message: `The agent stopped on an API error: ${result.result}`
      }
    }
    if (result.subtype === 'error_max_turns') {
      return {
        ...base,
        conclusion: 'failure',
        message: `The agent reached max-turns (${result.num_turns}) before finishing. Raise \`max-turns\` or narrow the task`
      }
    }
    const errors = result.errors.join('; ')
    return {
      ...base,
      conclusion: 'failure',
      message: `The agent failed (${result.subtype})${errors ? `: ${errors}` : ''}`
    }
  }
  if (
    container.exitCode > 128 ||
    /fork: retry|Resource temporarily unavailable/.test(container.stderrTail)
  ) {
    // Killed or aborted with no result: most often a limit (a thread or process it could not
    // start under pids-limit, memory it could not get). Name both so the user knows what to raise.
    const signal = container.exitCode > 128 ? ` by signal ${container.exitCode - 128}` : ''
    const tail = container.stderrTail ? `. ${container.stderrTail}` : ''
    return {
      ...base,
      message: `Claude Code was stopped${signal} (exit ${container.exitCode}) without a result; the container's limits may have been reached (pids-limit ${limits.pidsLimit}, memory ${limits.memory}). Raise them, or read the transcript's last command${tail}`
    }
  }
  return {
    ...base,
    message: `Claude Code exited with code ${container.exitCode} without a result${container.stderrTail ? `: ${container.stderrTail}` : ''}`
  }
}
