/**
 * The API door's settings for one run, in one place: what the request policy lets through, the
 * price table and the spend cap, and what happens when the cap is reached. The CLI ends its run
 * on the gateway's 402 at once; the host stops the container shortly after all the same, so an
 * agent busy in a tool of its own (a loop of curl, say) cannot keep the run going.
 */
import type { Settings } from '../settings.js'
import type { ApiFigures } from './api-ledger.js'
import { webSearchAllowed } from './api-policy.js'
import type { GatewayOptions } from './gateway.js'

/** How long the CLI gets to end by itself once the cap is reached. */
export const BUDGET_STOP_GRACE_MS = 10_000
/** Refusals warned about in the job's log; the rest are in the gateway log and the summary. */
const MAX_REFUSAL_WARNINGS = 20

export interface ApiDoor {
  gatewayOptions: Pick<
    GatewayOptions,
    'policy' | 'prices' | 'maxBudgetUsd' | 'onBudgetReached' | 'onRefused'
  >
  /** Aborted BUDGET_STOP_GRACE_MS after the spend cap is reached: stop the container. */
  stop: AbortSignal
}

export function apiDoorFor(
  settings: Settings,
  log: { warning(message: string): void },
  graceMs = BUDGET_STOP_GRACE_MS
): ApiDoor {
  const stop = new AbortController()
  const { sandbox, task } = settings
  let warned = 0
  return {
    gatewayOptions: {
      policy: {
        webSearch: webSearchAllowed({
          network: sandbox.network,
          allowedTools: task.allowedTools,
          disallowedTools: task.disallowedTools
        })
      },
      prices: sandbox.modelPrices,
      maxBudgetUsd: sandbox.maxBudgetUsd,
      onBudgetReached: (figures: ApiFigures) => {
        log.warning(
          `max-budget-usd (${sandbox.maxBudgetUsd}) reached: $${figures.costUsd.toFixed(4)} spent; the gateway refuses every further request and the agent is stopped`
        )
        setTimeout(() => stop.abort(), graceMs).unref()
      },
      onRefused: (entry, reason) => {
        warned++
        if (warned <= MAX_REFUSAL_WARNINGS) {
          log.warning(`🚪 ${entry.method} ${entry.path}: ${reason}`)
        } else if (warned === MAX_REFUSAL_WARNINGS + 1) {
          log.warning('🚪 more refused API requests: see the job summary and the gateway log')
        }
      }
    },
    stop: stop.signal
  }
}
