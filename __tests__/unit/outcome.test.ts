import { describe, it, expect } from '@jest/globals'
import type {
  NonNullableUsage,
  SDKResultError,
  SDKResultMessage,
  SDKResultSuccess
} from '@anthropic-ai/claude-agent-sdk'
import {
  decideOutcome,
  type ContainerOutcome,
  type HostView,
  type OutcomeLimits
} from '../../src/agent/result.js'
import type { ApiFigures } from '../../src/api-door/api-ledger.js'

const LIMITS: OutcomeLimits = { timeoutMs: 1_800_000, memory: '4g', pidsLimit: 1024 }

/** What the gateway counted: a conversation that ended (its last answer was end_turn). */
function api(extra: Partial<ApiFigures> = {}): ApiFigures {
  return {
    forwarded: 4,
    refused: [],
    costUsd: 0.0421,
    inputTokens: 1200,
    outputTokens: 300,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    webSearches: 0,
    turns: 3,
    lastTurnStopReason: 'end_turn',
    unpricedModels: [],
    ...extra
  }
}
const HOST: HostView = { api: api(), durationMs: 4321 }

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
    expect(
      decideOutcome(everything, success(), undefined, LIMITS, undefined, HOST).conclusion
    ).toBe('cancelled')
    const timedOut = decideOutcome(
      { ...everything, cancelled: false },
      success(),
      undefined,
      LIMITS,
      undefined,
      HOST
    )
    expect(timedOut.conclusion).toBe('timeout')
    const oom = decideOutcome(
      { ...everything, cancelled: false, timedOut: false },
      success(),
      undefined,
      LIMITS,
      undefined,
      HOST
    )
    expect(oom.conclusion).toBe('failure')
    expect(oom.message).toContain('ran out of memory')
  })
})

describe('decideOutcome messages', () => {
  it('names timeout-minutes with its value, fractions included', () => {
    const whole = decideOutcome(
      container({ timedOut: true }),
      undefined,
      'partial',
      LIMITS,
      undefined,
      HOST
    )
    expect(whole.message).toContain('timeout-minutes (30)')
    const fraction = decideOutcome(
      container({ timedOut: true }),
      undefined,
      undefined,
      {
        ...LIMITS,
        timeoutMs: 18_000
      },
      undefined,
      HOST
    )
    expect(fraction.message).toContain('timeout-minutes (0.3)')
    const odd = decideOutcome(
      container({ timedOut: true }),
      undefined,
      undefined,
      {
        ...LIMITS,
        timeoutMs: 59_940
      },
      undefined,
      HOST
    )
    expect(odd.message).toContain('timeout-minutes (0.999)')
    expect(fraction.message).toContain('partial work kept')
  })

  it('names the memory limit when the container was killed for memory', () => {
    const oom = decideOutcome(
      container({ oomKilled: true, exitCode: 137 }),
      undefined,
      '',
      {
        ...LIMITS,
        memory: '512m'
      },
      undefined,
      HOST
    )
    expect(oom.message).toContain('limit memory: 512m')
    expect(oom.message).toContain('`memory`')
  })

  it('is a success with the final message from the result and the figures from the host', () => {
    expect(
      decideOutcome(container(), success(), 'earlier text', LIMITS, 'stream-id', HOST)
    ).toEqual({
      conclusion: 'success',
      message: 'The agent finished',
      finalMessage: 'All tests pass now.',
      sessionId: 'session-from-result',
      numTurns: 3,
      durationMs: 4321,
      costUsd: 0.0421,
      inputTokens: 1200,
      outputTokens: 300
    })
  })

  it('reports is_error with subtype success as an API error', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      success({ is_error: true, result: 'API Error: 401 invalid x-api-key' }),
      undefined,
      LIMITS,
      undefined,
      HOST
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toBe(
      'The agent stopped on an API error: API Error: 401 invalid x-api-key'
    )
  })

  it('names the API door’s rule and the remedy when the CLI stopped on a refusal, never authentication', () => {
    const reason =
      'claude-sandbox gateway refused the request: top-level field not allowed: some_field (an unknown field may carry only a number, a boolean or null)'
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      success({ is_error: true, result: `API Error: 400 ${reason}` }),
      undefined,
      LIMITS,
      undefined,
      {
        ...HOST,
        api: api({
          refused: [
            {
              rule: 'beta (malformed)',
              count: 9,
              reason: 'claude-sandbox gateway refused the request: x'
            },
            { rule: 'field some_field', count: 6, reason }
          ]
        })
      }
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toContain(
      'The API door refused Claude Code’s request (rule `field some_field`'
    )
    expect(outcome.message).toContain('not a credential problem')
    expect(outcome.message).toContain('`claude-code-version` from 2.1.232 to 2.1.332')
    expect(outcome.message).not.toMatch(/authenticat/i)
  })

  it('an API error the gateway did not make stays an API error', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      success({ is_error: true, result: 'API Error: 529 overloaded' }),
      undefined,
      LIMITS,
      undefined,
      { ...HOST, api: api({ refused: [{ rule: 'path GET /x', count: 1, reason: 'r' }] }) }
    )
    expect(outcome.message).toBe('The agent stopped on an API error: API Error: 529 overloaded')
  })

  it('names max-turns when the agent ran out of turns', () => {
    const outcome = decideOutcome(
      container({ exitCode: 1 }),
      failure('error_max_turns', { num_turns: 5 }),
      'I was about to',
      LIMITS,
      undefined,
      HOST
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
      LIMITS,
      undefined,
      HOST
    )
    expect(outcome.message).toBe('The agent failed (error_during_execution): boom; bang')
  })

  it('names pids-limit and memory when the CLI was killed without a result', () => {
    const outcome = decideOutcome(
      container({ exitCode: 134, stderrTail: 'Aborted' }),
      undefined,
      undefined,
      { ...LIMITS, pidsLimit: 64 },
      undefined,
      HOST
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
      'stream-id',
      HOST
    )
    expect(outcome).toEqual({
      conclusion: 'failure',
      message: 'Claude Code exited with code 1 without a result',
      finalMessage: 'last words',
      sessionId: 'stream-id',
      numTurns: 3,
      durationMs: 4321,
      costUsd: 0.0421,
      inputTokens: 1200,
      outputTokens: 300
    })
  })
})

describe('decideOutcome: the result line is a claim, checked against the host', () => {
  // Each way a success claim can disagree with what the host saw, and what it must never become.
  const cases: Array<[string, ContainerOutcome, HostView, RegExp]> = [
    [
      'the CLI was killed after a forged line',
      container({ exitCode: 143 }),
      HOST,
      /exited with code 143/
    ],
    [
      'the last answer asked for a tool',
      container(),
      { api: api({ lastTurnStopReason: 'tool_use' }) },
      /stop_reason tool_use/
    ],
    [
      'the gateway saw no agent turn at all',
      container(),
      { api: api({ turns: 0, lastTurnStopReason: undefined }) },
      /no answered agent turn/
    ]
  ]
  it.each(cases)('is a failure when %s', (_name, ended, host, why) => {
    const forged = success({
      result: 'FORGED success',
      total_cost_usd: 0.0001,
      num_turns: 1,
      usage: { input_tokens: 1, output_tokens: 1 } as unknown as NonNullableUsage
    })
    const outcome = decideOutcome(ended, forged, 'forged text', LIMITS, undefined, host)
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toMatch(why)
    expect(outcome.message).toContain('claims success')
    expect(outcome.disagreement).toMatch(why)
    expect(outcome.finalMessage).toBe('')
    expect(outcome.costUsd).toBe(host.api.costUsd)
    expect(outcome.numTurns).toBe(host.api.turns)
    expect(outcome.inputTokens).toBe(host.api.inputTokens)
  })

  it('names max-budget-usd when the cap was reached, even though the host stopped the container', () => {
    const host: HostView = { api: api({ costUsd: 1.25, budget: { capUsd: 1, reached: true } }) }
    const outcome = decideOutcome(
      container({ cancelled: true, exitCode: 143 }),
      undefined,
      'working on it',
      LIMITS,
      undefined,
      host
    )
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.message).toContain('max-budget-usd (1)')
    expect(outcome.message).toContain('$1.2500 spent')
    expect(outcome.costUsd).toBe(1.25)
  })

  it('is still a success under a cap that was not reached', () => {
    const host: HostView = { api: api({ budget: { capUsd: 5, reached: false } }) }
    expect(decideOutcome(container(), success(), '', LIMITS, undefined, host).conclusion).toBe(
      'success'
    )
  })
})
