import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk'

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

/** Decides the conclusion from how the container ended and the CLI's result message. */
export function decideOutcome(
  container: ContainerOutcome,
  result: SDKResultMessage | undefined,
  lastAssistantText: string | undefined,
  limits: OutcomeLimits,
  sessionId?: string
): AgentOutcome {
  const base: AgentOutcome = {
    conclusion: 'failure',
    message: '',
    finalMessage:
      result && result.subtype === 'success' ? result.result : (lastAssistantText ?? ''),
    sessionId: result?.session_id ?? sessionId,
    numTurns: result?.num_turns,
    durationMs: result?.duration_ms,
    costUsd: result?.total_cost_usd,
    inputTokens: result ? result.usage.input_tokens : undefined,
    outputTokens: result ? result.usage.output_tokens : undefined
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
  if (result) {
    if (result.subtype === 'success' && !result.is_error) {
      return { ...base, conclusion: 'success', message: 'The agent finished' }
    }
    if (result.subtype === 'success') {
      // is_error with subtype success is how the CLI reports an API error (401, 529, ...).
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
