/**
 * Records what a Claude Code CLI version sends to the model API, for the API door's policy
 * (src/api-door/api-policy.ts) and its unit test: the real binary is run against the scripted
 * stand-in API (__tests__/servers/fake-anthropic.ts) through the multi-tool scenario (TodoWrite,
 * Glob, Grep, Read, Edit, Write, Bash) and a WebSearch turn, with an API key and with an OAuth
 * token, and one request of each shape is written, its long texts trimmed.
 *
 *   tsx scripts/record-cli-requests.ts PATH/TO/claude OUT.json
 *
 * The binary runs on the host as `nobody` in a throw-away directory (the CLI refuses
 * --dangerously-skip-permissions as root), with the sandbox's own environment switches.
 */
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  startFakeAnthropic,
  type RecordedRequest,
  type Turn
} from '../__tests__/servers/fake-anthropic.js'

const NOBODY = 65534

interface RecordRun {
  name: string
  turns: Turn[]
  env: Record<string, string>
  args?: string[]
}

function multiTool(): Turn[] {
  const file = path.join(import.meta.dirname, '..', '__tests__', 'fixtures', 'scenarios')
  return (JSON.parse(readFileSync(path.join(file, 'multi-tool.json'), 'utf8')) as { turns: Turn[] })
    .turns
}

const WEB_SEARCH: Turn[] = [
  { tools: [{ name: 'WebSearch', input: { query: 'claude sandbox action' } }] },
  { text: 'Searched.' }
]

async function runCli(binary: string, run: RecordRun): Promise<RecordedRequest[]> {
  const api = await startFakeAnthropic({ turns: run.turns })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'record-cli-'))
  chmodSync(dir, 0o777)
  try {
    const child = spawn(
      binary,
      [
        '-p',
        'Do the task.',
        '--dangerously-skip-permissions',
        '--output-format',
        'stream-json',
        '--verbose',
        ...(run.args ?? [])
      ],
      {
        cwd: dir,
        uid: NOBODY,
        gid: NOBODY,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          ANTHROPIC_BASE_URL: api.url,
          DISABLE_AUTOUPDATER: '1',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_ERROR_REPORTING: '1',
          ...run.env
        }
      }
    )
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    await new Promise(resolve => child.on('close', resolve))
    clearTimeout(timer)
    return [...api.requests]
  } finally {
    await api.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Long strings cut short: the shape is what matters, and the fixture stays readable. */
function trim(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return value.length > 200 ? `${value.slice(0, 200)}` : value
  if (Array.isArray(value)) return value.map(item => trim(item, key))
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [name, inner] of Object.entries(value)) {
      // Tool schemas are long and say nothing about the door.
      out[name] = name === 'input_schema' ? { type: 'object' } : trim(inner, name)
    }
    return out
  }
  return value
}

/** One request per shape: kind, top-level fields, betas, tool kinds and block types. */
function shapeOf(request: RecordedRequest): string {
  const body = (request.body ?? {}) as Record<string, unknown>
  const tools = Array.isArray(body.tools)
    ? (body.tools as Array<{ type?: string }>).map(t => t.type ?? 'client')
    : []
  const blocks = new Set<string>()
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk)
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>
      if (typeof record.type === 'string') blocks.add(record.type)
      for (const [key, inner] of Object.entries(record)) if (key !== 'input') walk(inner)
    }
  }
  walk(body.messages)
  return JSON.stringify([
    request.kind,
    request.path,
    Object.keys(body).sort(),
    String(request.headers['anthropic-beta'] ?? ''),
    [...new Set(tools)].sort(),
    [...blocks].sort()
  ])
}

async function main(): Promise<void> {
  const [binary, out] = process.argv.slice(2)
  if (!binary || !out) throw new Error('usage: record-cli-requests.ts PATH/TO/claude OUT.json')
  const version = (
    await new Promise<string>(resolve => {
      const child = spawn(binary, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
      child.on('close', () => resolve(text.trim().split(' ')[0] ?? 'unknown'))
    })
  ).trim()
  const runs: RecordRun[] = [
    { name: 'key-default', turns: multiTool(), env: { ANTHROPIC_API_KEY: 'sk-ant-placeholder' } },
    {
      name: 'oauth-default',
      turns: multiTool(),
      env: { CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-placeholder' }
    },
    {
      name: 'key-websearch',
      turns: WEB_SEARCH,
      env: { ANTHROPIC_API_KEY: 'sk-ant-placeholder' },
      args: ['--allowedTools', 'WebSearch']
    }
  ]
  const seen = new Set<string>()
  const requests: unknown[] = []
  for (const run of runs) {
    const recorded = await runCli(binary, run)
    console.log(`${run.name}: ${recorded.length} requests`)
    for (const request of recorded) {
      // The connectivity probe (HEAD /api/hello): the gateway answers it itself.
      if (request.method === 'HEAD') continue
      const shape = shapeOf(request)
      if (seen.has(shape)) continue
      seen.add(shape)
      requests.push({
        run: run.name,
        kind: request.kind === 'main' ? 'main' : 'side',
        method: request.method,
        path: request.path,
        'anthropic-beta': String(request.headers['anthropic-beta'] ?? ''),
        body: trim(request.body)
      })
    }
  }
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        '//': `Requests the real Claude Code CLI ${version} sent to __tests__/servers/fake-anthropic.ts (one of each shape), through the multi-tool scenario and a WebSearch turn, with an API key and an OAuth token (scripts/record-cli-requests.ts); long strings trimmed, tool schemas dropped.`,
        requests
      },
      null,
      2
    )}\n`
  )
  console.log(`${requests.length} shapes written to ${out}`)
}

main().catch((error: unknown) => {
  console.error(`record-cli-requests: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
