import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { ConfigurationError } from '../errors.js'
import type { PublishMode, PublishSettings } from '../settings.js'
import type { RunReport } from './publish.js'

/** Reads one input by its action.yml name; '' when unset (core.getInput). */
export type InputReader = (name: string) => string

const MODES: readonly PublishMode[] = ['auto', 'comment', 'commit', 'pull-request', 'patch']

export const DEFAULT_PROTECTED_PATHS = ['.github/workflows/**']

function list(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map(item => item.trim())
    .filter(item => item !== '')
}

function bool(value: string, input: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase()
  if (v === '') return fallback
  if (v === 'true') return true
  if (v === 'false') return false
  throw new ConfigurationError(`\`${input}\` must be true or false, not ${JSON.stringify(value)}`)
}

/** The publishing inputs, shared by action.yml and publish/action.yml. */
export function readPublishSettings(read: InputReader): PublishSettings {
  const rawMode = read('publish').trim() || 'auto'
  if (!(MODES as readonly string[]).includes(rawMode)) {
    throw new ConfigurationError(
      `\`publish\` must be one of ${MODES.join(', ')}, not ${JSON.stringify(rawMode)}`
    )
  }
  const optional = (name: string): string | undefined => read(name).trim() || undefined
  const settings: PublishSettings = {
    mode: rawMode as PublishMode,
    prLabels: list(read('pr-labels')),
    prDraft: bool(read('pr-draft'), 'pr-draft', false),
    protectedPaths:
      read('protected-paths').trim() === ''
        ? [...DEFAULT_PROTECTED_PATHS]
        : list(read('protected-paths'))
  }
  const fields: Array<[keyof PublishSettings, string]> = [
    ['githubToken', 'github-token'],
    ['branch', 'branch'],
    ['baseBranch', 'base-branch'],
    ['commitMessage', 'commit-message'],
    ['prTitle', 'pr-title'],
    ['prBody', 'pr-body']
  ]
  for (const [key, input] of fields) {
    const value = optional(input)
    if (value !== undefined) Object.assign(settings, { [key]: value })
  }
  return settings
}

interface TranscriptLine {
  type?: string
  subtype?: string
  is_error?: boolean
  result?: string
  num_turns?: number
  duration_ms?: number
  total_cost_usd?: number
  usage?: { input_tokens?: number; output_tokens?: number }
  message?: { content?: Array<{ type?: string; text?: string }> }
}

/**
 * How a run went, read back from its transcript (the `execution-file`: the CLI's stream-json,
 * one JSON object a line). Streamed, as a long session's transcript can be large.
 */
export async function readRunReport(executionFile: string): Promise<RunReport> {
  await access(executionFile)
  let result: TranscriptLine | undefined
  let lastText: string | undefined
  const lines = createInterface({
    input: createReadStream(executionFile, 'utf8'),
    crlfDelay: Infinity
  })
  for await (const line of lines) {
    if (line.trim() === '') continue
    let message: TranscriptLine
    try {
      message = JSON.parse(line) as TranscriptLine
    } catch {
      continue
    }
    if (message.type === 'result') result = message
    if (message.type === 'assistant') {
      const text = (message.message?.content ?? [])
        .filter(block => block.type === 'text' && typeof block.text === 'string')
        .map(block => block.text)
        .join('\n')
        .trim()
      if (text !== '') lastText = text
    }
  }
  if (!result) {
    return {
      conclusion: 'failure',
      outcomeMessage: 'The transcript has no result: the agent was stopped before it finished',
      executionFile,
      ...(lastText ? { finalMessage: lastText } : {})
    }
  }
  const ok = result.subtype === 'success' && result.is_error !== true
  const report: RunReport = { conclusion: ok ? 'success' : 'failure', executionFile }
  const finalMessage = result.subtype === 'success' ? result.result : lastText
  if (finalMessage) report.finalMessage = finalMessage
  if (!ok) report.outcomeMessage = `The agent stopped: ${result.subtype ?? 'error'}`
  if (typeof result.num_turns === 'number') report.numTurns = result.num_turns
  if (typeof result.duration_ms === 'number') report.durationMs = result.duration_ms
  if (typeof result.total_cost_usd === 'number') report.costUsd = result.total_cost_usd
  if (typeof result.usage?.input_tokens === 'number') report.inputTokens = result.usage.input_tokens
  if (typeof result.usage?.output_tokens === 'number')
    report.outputTokens = result.usage.output_tokens
  return report
}
