import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { ConfigurationError } from '../errors.js'
import type { RunReport } from './publish-types.js'

/**
 * What the publish action knows about the run it publishes. The verdict and the figures come
 * from the agent job's outputs, which the runner (the host) set from the gateway's own count;
 * the transcript is something the agent could have written (a forged `result` line, a missing
 * file), so it supplies display material only: the final message.
 */

export const CONCLUSIONS = ['success', 'failure', 'timeout', 'cancelled'] as const

type Read = (name: string) => string

/** The agent job's verdict (`conclusion`); '' when none was passed, which publishes no commit. */
export function readConclusion(read: Read): string {
  const value = read('conclusion').trim()
  if (value === '' || (CONCLUSIONS as readonly string[]).includes(value)) return value
  throw new ConfigurationError(
    `\`conclusion\` is "${value}", not one of ${CONCLUSIONS.join(', ')}`,
    "Pass the agent job's output: `conclusion: ${{ needs.<agent job>.outputs.conclusion }}`"
  )
}

const FIGURES = {
  numTurns: 'num-turns',
  durationMs: 'duration-ms',
  costUsd: 'cost-usd',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens'
} as const

/** The run's figures from the inputs named like the main action's outputs; empty ones are left out. */
export function readFigures(read: Read): Pick<RunReport, keyof typeof FIGURES> {
  const figures: Pick<RunReport, keyof typeof FIGURES> = {}
  for (const [key, input] of Object.entries(FIGURES) as Array<[keyof typeof FIGURES, string]>) {
    const raw = read(input).trim()
    if (raw === '') continue
    const value = Number(raw)
    if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(value)) {
      throw new ConfigurationError(
        `\`${input}\` is "${raw}", not a non-negative number`,
        `Pass the agent job's output: \`${input}: \${{ needs.<agent job>.outputs.${input} }}\`, or leave it empty`
      )
    }
    figures[key] = value
  }
  return figures
}

interface TranscriptLine {
  type?: string
  subtype?: string
  result?: string
  message?: { content?: Array<{ type?: string; text?: string }> }
}

/**
 * The agent's final message from its transcript (the `execution-file`: the CLI's stream-json,
 * one JSON object a line), streamed as a long session's transcript can be large. Nothing else is
 * taken from it: whatever it claims about success, turns or cost is the agent's word.
 */
export async function readFinalMessage(executionFile: string): Promise<string | undefined> {
  await access(executionFile)
  let result: string | undefined
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
    if (message.type === 'result' && typeof message.result === 'string') result = message.result
    if (message.type === 'assistant') {
      const text = (message.message?.content ?? [])
        .filter(block => block.type === 'text' && typeof block.text === 'string')
        .map(block => block.text)
        .join('\n')
        .trim()
      if (text !== '') lastText = text
    }
  }
  return result || lastText
}
