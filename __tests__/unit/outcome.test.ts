import { describe, it, expect } from '@jest/globals'
import type {
  NonNullableUsage,
  SDKResultError,
  SDKResultMessage,
  SDKResultSuccess
} from '@anthropic-ai/claude-agent-sdk'
import { decideOutcome, type ContainerOutcome, type OutcomeLimits } from '../../src/agent/result.js'

const LIMITS: OutcomeLimits = { timeoutMs: 1_800_000, memory: '4g', pidsLimit: 1024 }

function container(extra: Partial<ContainerOutcome> = {}): ContainerOutcome {
  return {
    exitCode: 0,
    timedOut: false,
    cancelled: false,
    oomKilled: false,
    stderrTail: '',
    ...extra
  }
}

function common() {
  return {
    type: 'result' as const,
    duration_ms: 65_432,
    duration_api_ms: 60_000,
    is_error: false,
    num_turns: 9,
    stop_reason: 'end_turn',
    total_cost_usd: 0.1234,
    // Only the token counts matter here; the rest of the usage record is optional to us.
    usage: { input_tokens: 1500, output_tokens: 320 } as unknown as NonNullableUsage,
    modelUsage: {},
    permission_denials: [],
    uuid: '00000000-0000-4000-8000-000000000001' as const,
    session_id: 'session-from-result'
  }
}

function success(extra: Partial<SDKResultSuccess> = {}): SDKResultMessage {
  return { ...common(), subtype: 'success', result: 'All tests pass now.', ...extra }
}

function failure(
  subtype: SDKResultError['subtype'],
  extra: Partial<SDKResultError> = {}
): SDKResultMessage {
  return { ...common(), subtype, is_error: true, errors: [], ...extra }
}

describe('decideOutcome precedence', () => {
  const everything = container({ cancelled: true, timedOut: true, oomKilled: true, exitCode: 137 })

  it('cancelled beats timeout, timeout beats out-of-memory, out-of-memory beats the result', () => {
    expect(decideOutcome(everything, success(), undefined, LIMITS).conclusion).toBe('cancelled')
    const timedOut = decideOutcome(
      { ...everything, cancelled: false },
      success(),
      undefined,
      LIMITS
    )
    expect(timedOut.conclusion).toBe('timeout')
    const oom = decideOutcome(
      { ...everything, cancelled: false, timedOut: false },
      success(),
      undefined,
      LIMITS
    )
    expect(oom.conclusion).toBe('failure')
    expect(oom.message).toContain('ran out of memory')
  })
})

describe('decideOutcome messages', () => {
  it('names timeout-minutes with its value, fractions included', () => {
    const whole = decideOutcome(container({ timedOut: true }), undefined, 'partial', LIMITS)
    expect(whole.message).toContain('timeout-minutes (30)')
    const fraction = decideOutcome(container({ timedOut: true }), undefined, undefined, {
      ...LIMITS,
      timeoutMs: 18_000
    })
    expect(fraction.message).toContain('timeout-minutes (0.3)')
    const odd = decideOutcome(container({ timedOut: true }), undefined, undefined, {
      ...LIMITS,
      timeoutMs: 59_940
    })
    expect(odd.message).toContain('timeout-minutes (0.999)')
    expect(fraction.message).toContain('partial work kept')
  })

  it('names the memory limit when the container was killed for memory', () => {
    const oom = decideOutcome(container({ oomKilled: true, exitCode: 137 }), undefined, '', {
      ...LIMITS,
      memory: '512m'
    })
    expect(oom.message).toContain('limit memory: 512m')
    expect(oom.message).toContain('`memory`')
  })

  it('is a success with the final message and all figures copied from the result', () => {
    expect(decideOutcome(container(), success(), 'earlier text', LIMITS, 'stream-id')).toEqual({
      conclusion: 'success',
      message: 'The agent finished',
      finalMessage: 'All tests pass now.',
      sessionId: 'session-from-result',
      numTurns: 9,
      durationMs: 65_432,
      costUsd: 0.1234,
      inputTokens: 1500,
      outputTokens: 320
    })
  })

  it('reports is_error with subtype success as an API error', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      success({ is_error: true, result: 'API Error: 401 invalid x-api-key' }),
      undefined,
      LIMITS
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toBe(
      'The agent stopped on an API error: API Error: 401 invalid x-api-key'
    )
  })

  it('names max-turns when the agent ran out of turns', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      failure('error_max_turns', { num_turns: 5 }),
      'I was about to',
      LIMITS
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toContain('reached max-turns (5)')
    expect(outcome.message).toContain('`max-turns`')
    expect(outcome.finalMessage).toBe('I was about to')
  })

  it('lists the errors of another failed result', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      failure('error_during_execution', { errors: ['boom', 'bang'] }),
      undefined,
      LIMITS
    )
    expect(outcome.message).toBe('The agent failed (error_during_execution): boom; bang')
  })

  it('names pids-limit and memory when the CLI was killed without a result', () => {
    const outcome = decideOutcome(
      container({ exitCode: 134, stderrTail: 'Aborted' }),
      undefined,
      undefined,
      { ...LIMITS, pidsLimit: 64 }
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toContain('by signal 6 (exit 134)')
    expect(outcome.message).toContain('pids-limit 64')
    expect(outcome.message).toContain('memory 4g')
    expect(outcome.message.endsWith('. Aborted')).toBe(true)
  })

  it('reports a plain exit code without a result, keeping the stream session id', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      undefined,
      'last words',
      LIMITS,
      'stream-id'
    )
    expect(outcome).toEqual({
      conclusion: 'failure',
      message: 'Claude Code exited with code 1 without a result',
      finalMessage: 'last words',
      sessionId: 'stream-id',
      numTurns: undefined,
      durationMs: undefined,
      costUsd: undefined,
      inputTokens: undefined,
      outputTokens: undefined
    })
  })
})
