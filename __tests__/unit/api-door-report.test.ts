// The job summary's API door section (pure markdown), and the door's settings for a run.
import { describe, expect, it } from '@jest/globals'
import { formatApiDoor } from '../../src/report/api-door.js'
import type { ApiFigures } from '../../src/api-door/api-ledger.js'
import { apiDoorFor } from '../../src/api-door/api-door.js'
import { MODEL_PRICES } from '../../src/api-door/pricing.js'
import type { Settings } from '../../src/settings.js'

function figures(extra: Partial<ApiFigures> = {}): ApiFigures {
  return {
    forwarded: 3,
    refused: [],
    costUsd: 0.5,
    inputTokens: 1,
    outputTokens: 1,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    webSearches: 0,
    turns: 2,
    unpricedModels: [],
    ...extra
  }
}

describe('formatApiDoor', () => {
  it('says nothing when there is nothing to say', () => {
    expect(formatApiDoor(figures(), {})).toBe('')
  })

  it('lists refusals by rule, the spend against the cap, fallback prices and a disbelieved result', () => {
    const text = formatApiDoor(
      figures({
        refused: [
          {
            rule: 'field mcp_servers',
            count: 3,
            reason:
              'claude-sandbox gateway refused the request: top-level field not allowed: mcp_servers'
          },
          { rule: 'max-budget-usd', count: 1, reason: 'max-budget-usd (1) reached' }
        ],
        budget: { capUsd: 1, reached: true },
        costUsd: 1.2006,
        unpricedModels: ['my-model']
      }),
      { disagreement: 'Claude Code exited with code 137' }
    )
    expect(text).toContain('### API requests refused by the gateway: 4')
    expect(text).toContain('| field mcp&#95;servers | 3 |')
    expect(text).toContain('Spend: $1.2006 of max-budget-usd $1 (reached')
    expect(text).toContain('my&#45;model')
    expect(text).toContain('was not believed: Claude Code exited with code 137')
  })

  it('cannot be made to render markup by a rule or reason the agent shaped', () => {
    const text = formatApiDoor(
      figures({
        refused: [
          {
            rule: 'tool <img src=x>',
            count: 1,
            reason: '![x](https://decoy.example/p.png) @someone'
          }
        ]
      }),
      {}
    )
    expect(text).not.toMatch(/<img|!\[x\]|@someone/)
  })
})

describe('apiDoorFor', () => {
  const settings = (sandbox: Partial<Settings['sandbox']>, task: Partial<Settings['task']> = {}) =>
    ({
      sandbox: { network: 'restricted', modelPrices: MODEL_PRICES, ...sandbox },
      task: { allowedTools: [], disallowedTools: [], ...task }
    }) as unknown as Settings

  it('passes web search only where allowed, and the cap and prices on to the gateway', () => {
    const warnings: string[] = []
    const log = { warning: (message: string) => warnings.push(message) }
    expect(apiDoorFor(settings({}), log).gatewayOptions.policy).toEqual({ webSearch: false })
    const door = apiDoorFor(settings({ maxBudgetUsd: 2 }, { allowedTools: ['WebSearch'] }), log)
    expect(door.gatewayOptions).toMatchObject({
      policy: { webSearch: true },
      maxBudgetUsd: 2,
      prices: MODEL_PRICES
    })
  })

  it('warns when the cap is reached and stops the container after the grace period', async () => {
    const warnings: string[] = []
    const door = apiDoorFor(settings({ maxBudgetUsd: 1 }), { warning: m => warnings.push(m) }, 50)
    door.gatewayOptions.onBudgetReached?.(figures({ costUsd: 1.1 }))
    expect(warnings[0]).toContain('max-budget-usd (1) reached: $1.1000 spent')
    expect(door.stop.aborted).toBe(false)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(door.stop.aborted).toBe(true)
  })
})
