/**
 * What the API's usage figures cost (pure): per-model prices in USD per million tokens, and the
 * `model-prices` input that overrides them (LiteLLM and other gateways bill differently).
 *
 * The table is the Claude Code CLI 2.1.330's own baked-in model catalog (its `pricing_tiers`),
 * so the gateway's figure matches what the CLI itself reports for first-party API use.
 */
import { ConfigurationError } from '../errors.js'

export interface ModelPrice {
  /** USD per million uncached input tokens. */
  input: number
  output: number
  /** Cache writes with the default 5-minute lifetime. */
  cacheWrite5m: number
  /** Cache writes with the 1-hour lifetime. */
  cacheWrite1h: number
  cacheRead: number
  /** USD per server-side web search. */
  webSearch: number
  /** Higher rates for the whole request once its prompt exceeds `aboveTokens`. */
  longPrompt?: Omit<ModelPrice, 'longPrompt' | 'webSearch'> & { aboveTokens: number }
}

function tier(input: number, output: number, cacheRead = input / 10): ModelPrice {
  return {
    input,
    output,
    cacheWrite5m: input * 1.25,
    cacheWrite1h: input * 2,
    cacheRead,
    webSearch: 0.01
  }
}

/** Keys are model ids as the API names them, without a date suffix; matched by prefix. */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-3-5-haiku': tier(0.8, 4),
  'claude-haiku-4-5': tier(1, 5),
  'claude-haiku-5-5': {
    ...tier(0.1, 0.5),
    longPrompt: { aboveTokens: 100_000, ...withoutWebSearch(tier(0.5, 2.5)) }
  },
  'claude-3-5-sonnet': tier(3, 15),
  'claude-3-7-sonnet': tier(3, 15),
  'claude-sonnet-4': tier(3, 15),
  'claude-sonnet-4-5': tier(3, 15),
  'claude-sonnet-4-6': tier(3, 15),
  'claude-sonnet-5': tier(2, 10, 0.2),
  'claude-sonnet-5-5': tier(2, 10, 0.1),
  'claude-opus-4': tier(15, 75),
  'claude-opus-4-1': tier(15, 75),
  'claude-opus-4-5': tier(5, 25),
  'claude-opus-4-6': tier(5, 25),
  'claude-opus-4-7': tier(5, 25),
  'claude-opus-4-8': tier(5, 25),
  'claude-opus-5': tier(5, 25),
  'claude-opus-5-5': tier(4, 20, 0.2),
  'claude-fable-5': tier(10, 50, 1),
  'claude-fable-5-1': tier(10, 50, 0.25),
  'claude-fable-5-2': tier(8, 40, 0.2),
  'claude-mythos-5': tier(10, 50, 1),
  'claude-mythos-5-1': tier(10, 50, 0.25),
  'claude-mythos-5-2': tier(8, 40, 0.2)
}

/** A model the table does not know is priced at the table's highest rates: a cap never under-counts. */
export const UNKNOWN_MODEL_PRICE: ModelPrice = tier(15, 75)

function withoutWebSearch(price: ModelPrice): Omit<ModelPrice, 'longPrompt' | 'webSearch'> {
  const { input, output, cacheWrite5m, cacheWrite1h, cacheRead } = price
  return { input, output, cacheWrite5m, cacheWrite1h, cacheRead }
}

export type PriceTable = Readonly<Record<string, ModelPrice>>

/**
 * The price for a model name. Exact key first, then the longest key the name starts with (dated
 * ids such as `claude-sonnet-4-5-20250929`), after dropping a provider prefix (`us.anthropic.`),
 * then `*` from `model-prices`. Undefined when nothing matches.
 */
export function priceFor(model: string, table: PriceTable): ModelPrice | undefined {
  if (table[model]) return table[model]
  const name = model.includes('claude-') ? model.slice(model.indexOf('claude-')) : model
  let best: string | undefined
  for (const key of Object.keys(table)) {
    if (key === '*') continue
    const boundary = name.length === key.length || /[-@:.]/.test(name.charAt(key.length))
    if (name.startsWith(key) && boundary && (!best || key.length > best.length)) best = key
  }
  return best ? table[best] : table['*']
}

/** The usage object of a Messages response (message_start/message_delta, or the JSON body). */
export interface Usage {
  input_tokens?: number
  output_tokens?: number
  cache_read_input_tokens?: number
  cache_creation_input_tokens?: number
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number }
  server_tool_use?: { web_search_requests?: number }
  inference_geo?: string
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}

/** USD for one response's usage. */
export function costOf(usage: Usage, price: ModelPrice): number {
  const input = count(usage.input_tokens)
  const cacheRead = count(usage.cache_read_input_tokens)
  const cacheWrite = count(usage.cache_creation_input_tokens)
  const oneHour = Math.min(cacheWrite, count(usage.cache_creation?.ephemeral_1h_input_tokens))
  const rates =
    price.longPrompt && input + cacheRead + cacheWrite > price.longPrompt.aboveTokens
      ? price.longPrompt
      : price
  const tokens =
    input * rates.input +
    count(usage.output_tokens) * rates.output +
    cacheRead * rates.cacheRead +
    (cacheWrite - oneHour) * rates.cacheWrite5m +
    oneHour * rates.cacheWrite1h
  // The API bills inference pinned to the US at 1.1 times (as the CLI's own pricing does).
  const geo = usage.inference_geo === 'us' ? 1.1 : 1
  return (tokens / 1e6) * geo + count(usage.server_tool_use?.web_search_requests) * price.webSearch
}

const PRICE_FIELDS: Record<string, keyof Omit<ModelPrice, 'longPrompt'>> = {
  input: 'input',
  output: 'output',
  cache_write_5m: 'cacheWrite5m',
  cache_write: 'cacheWrite5m',
  cache_write_1h: 'cacheWrite1h',
  cache_read: 'cacheRead',
  web_search: 'webSearch'
}

/**
 * Parses `model-prices`: a JSON object from model name (or `*` for any other model) to prices in
 * USD per million tokens, e.g. `{"claude-sonnet-4-5": {"input": 3, "output": 15}}`. Fields:
 * input, output (required), cache_write_5m (alias cache_write), cache_write_1h, cache_read,
 * web_search (USD per search). Missing cache prices follow the API's ratios to the input price.
 * Returns the built-in table with these entries replacing its own.
 */
export function parseModelPrices(text: string): PriceTable {
  if (text.trim() === '') return MODEL_PRICES
  const remedy =
    'Give a JSON object such as {"claude-sonnet-4-5": {"input": 3, "output": 15}} (USD per million tokens)'
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error: unknown) {
    throw new ConfigurationError(
      `Input \`model-prices\` is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      remedy
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError('Input `model-prices` must be a JSON object', remedy)
  }
  const table: Record<string, ModelPrice> = { ...MODEL_PRICES }
  for (const [model, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigurationError(
        `Input \`model-prices\`: "${model}" must map to an object`,
        remedy
      )
    }
    const fields: Partial<Record<keyof Omit<ModelPrice, 'longPrompt'>, number>> = {}
    for (const [field, amount] of Object.entries(value as Record<string, unknown>)) {
      const key = PRICE_FIELDS[field]
      if (!key) {
        throw new ConfigurationError(
          `Input \`model-prices\`: unknown field "${field}" for "${model}"`,
          `Use ${Object.keys(PRICE_FIELDS).join(', ')}`
        )
      }
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
        throw new ConfigurationError(
          `Input \`model-prices\`: "${model}".${field} must be a number ≥ 0`,
          remedy
        )
      }
      fields[key] = amount
    }
    if (fields.input === undefined || fields.output === undefined) {
      throw new ConfigurationError(
        `Input \`model-prices\`: "${model}" needs both "input" and "output"`,
        remedy
      )
    }
    const base = tier(fields.input, fields.output)
    table[model] = { ...base, ...fields }
  }
  return table
}
