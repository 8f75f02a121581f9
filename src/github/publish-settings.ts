import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { RunReport } from './publish-types.js'

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
