/**
 * The gateway's own account of the run: what every response cost, the agent loop's turns and how
 * its last one ended, what was refused and why, and the spend cap (`max-budget-usd`). It is the
 * host's figure, out of the agent's reach; the CLI's `result` line is only a claim.
 */
import { costOf, priceFor, UNKNOWN_MODEL_PRICE, type PriceTable } from './pricing.js'
import type { ResponseReading } from './usage-meter.js'

export interface ApiFigures {
  /** Requests forwarded to the API. */
  forwarded: number
  /** Refused requests, grouped by rule, most frequent first. */
  refused: Array<{ rule: string; count: number; reason: string }>
  costUsd: number
  /** Uncached input tokens, as the API counts `input_tokens`. */
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  webSearches: number
  /** Answered requests of an agent loop (requests that offered client tools). */
  turns: number
  /** stop_reason of the last answered agent-loop request (`end_turn`, `tool_use`, ...). */
  lastTurnStopReason?: string
  /** Models the price table did not know (priced at its highest rates). */
  unpricedModels: string[]
  /**
   * The CLI's session id, from the `x-claude-code-session-id` header of the first agent-loop
   * request (sent before the agent could act, so not one it chose).
   */
  sessionId?: string
  budget?: { capUsd: number; reached: boolean }
  /**
   * The provider refused the host's credentials (an upstream 401/403, a failed token exchange,
   * credentials that could not be had): one sentence with the cause and what to check.
   */
  credentialsProblem?: string
}

export interface LedgerOptions {
  prices: PriceTable
  /** `max-budget-usd`. */
  capUsd?: number
  /** Called once, when the spend first reaches the cap. */
  onCapReached?: (figures: ApiFigures) => void
}

const MAX_RULES = 100
const MAX_RULE_CHARS = 120
const MAX_REASON_CHARS = 400

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** stop_reasons that end a conversation (anything else asks the client to go on). */
const ENDING_STOP_REASONS = new Set(['end_turn', 'stop_sequence'])

/** Whether the gateway saw the conversation end: the last agent-loop answer was not a tool call. */
export function conversationEnded(figures: ApiFigures): boolean {
  return (
    figures.lastTurnStopReason !== undefined && ENDING_STOP_REASONS.has(figures.lastTurnStopReason)
  )
}

export class ApiLedger {
  private readonly totals = {
    forwarded: 0,
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    webSearches: 0,
    turns: 0
  }
  private lastTurnStopReason?: string
  private readonly refusals = new Map<string, { count: number; reason: string }>()
  private readonly unpriced = new Set<string>()
  private reached = false
  private sessionId?: string
  private problem?: string

  constructor(private readonly options: LedgerOptions) {}

  get capReached(): boolean {
    return this.reached
  }

  forwarded(): void {
    this.totals.forwarded++
  }

  /** Keeps the first session id seen; later ones (the agent's own requests) cannot replace it. */
  session(id: string | undefined): void {
    if (this.sessionId === undefined && id) this.sessionId = id
  }

  /** Keeps the first credentials problem seen (later ones are usually its echoes). */
  credentialsProblem(problem: string): void {
    this.problem ??= cut(problem, 2 * MAX_REASON_CHARS)
  }

  /**
   * Counts a refusal under its rule. Rules and reasons can quote what the agent sent (a field's
   * name, say), so both are cut short and the number of distinct rules is bounded.
   */
  refused(rule: string, reason: string): void {
    let key = cut(rule, MAX_RULE_CHARS)
    if (!this.refusals.has(key) && this.refusals.size >= MAX_RULES) key = 'other rules'
    const entry = this.refusals.get(key)
    if (entry) entry.count++
    else this.refusals.set(key, { count: 1, reason: cut(reason, MAX_REASON_CHARS) })
  }

  /** Books one response (a broken-off one too: what it had read is billed all the same). */
  book(
    reading: ResponseReading,
    request: { model?: string; agentLoop: boolean; ok: boolean }
  ): void {
    const usage = reading.usage
    if (usage) {
      const model = reading.model ?? request.model ?? 'unknown'
      let price = priceFor(model, this.options.prices)
      if (!price) {
        this.unpriced.add(model)
        price = UNKNOWN_MODEL_PRICE
      }
      this.totals.costUsd += costOf(usage, price)
      this.totals.inputTokens += usage.input_tokens ?? 0
      this.totals.outputTokens += usage.output_tokens ?? 0
      this.totals.cacheReadTokens += usage.cache_read_input_tokens ?? 0
      this.totals.cacheWriteTokens += usage.cache_creation_input_tokens ?? 0
      this.totals.webSearches += usage.server_tool_use?.web_search_requests ?? 0
    }
    if (request.agentLoop && request.ok) {
      this.totals.turns++
      this.lastTurnStopReason = reading.stopReason ?? 'incomplete'
    }
    const cap = this.options.capUsd
    if (cap !== undefined && !this.reached && this.totals.costUsd >= cap) {
      this.reached = true
      this.options.onCapReached?.(this.figures())
    }
  }

  figures(): ApiFigures {
    const refused = [...this.refusals.entries()]
      .map(([rule, { count, reason }]) => ({ rule, count, reason }))
      .sort((a, b) => b.count - a.count)
    const cap = this.options.capUsd
    return {
      ...this.totals,
      // To the micro-dollar: sums of float prices would otherwise print as 1.2006000000000001.
      costUsd: Math.round(this.totals.costUsd * 1e6) / 1e6,
      refused,
      lastTurnStopReason: this.lastTurnStopReason,
      unpricedModels: [...this.unpriced],
      ...(this.sessionId ? { sessionId: this.sessionId } : {}),
      ...(this.problem ? { credentialsProblem: this.problem } : {}),
      ...(cap !== undefined ? { budget: { capUsd: cap, reached: this.reached } } : {})
    }
  }
}
