/**
 * Records what a Claude Code CLI version sends to the Messages API, for the API door's request
 * policy (src/api-door/api-policy.ts) and its test (__tests__/unit/api-policy.test.ts): the real
 * CLI, installed with npm, runs scripted tool turns (Write, Read, Edit, Bash, WebSearch) against the local
 * stand-in __tests__/servers/fake-anthropic.ts, with an API key (the default model,
 * claude-sonnet-4-5 and claude-haiku-4-5) and with an OAuth token. One request of each shape is
 * kept (run, kind, top-level fields, first turn or follow-up), with tool descriptions and schemas,
 * system text and message text trimmed, in the fixture format the policy test reads.
 *
 * The CLI bump (scripts/cli-bump.ts, .github/workflows/cli-bump.yml) records the new version with
 * this, and the policy test then fails on any request shape the door would refuse.
 *
 *   npx tsx scripts/record-cli-requests.ts --version X.Y.Z --out FILE [--cli PATH]
 *
 * `--cli` uses a binary already on disk instead of installing the package. Run as root (the CLI
 * refuses --dangerously-skip-permissions for root), the CLI runs as an unprivileged uid through
 * setpriv.
 */
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  startFakeAnthropic,
  type RecordedRequest,
  type Turn
} from '../__tests__/servers/fake-anthropic.js'

export interface FixtureRequest {
  run: string
  kind: string
  method: string
  path: string
  'anthropic-beta'?: string
  body: unknown
}

export interface RunSpec {
  name: string
  credential: 'key' | 'oauth'
  model?: string
}

export const RUNS: readonly RunSpec[] = [
  { name: 'key-default', credential: 'key' },
  { name: 'key-claude-sonnet-4-5', credential: 'key', model: 'claude-sonnet-4-5' },
  { name: 'key-claude-haiku-4-5', credential: 'key', model: 'claude-haiku-4-5' },
  { name: 'oauth-default', credential: 'oauth' }
]

/** The scripted agent: one turn per tool the recording covers, then the final answer. */
export function scenarioTurns(workspace: string): Turn[] {
  const file = path.join(workspace, 'notes.txt')
  return [
    { tools: [{ name: 'Write', input: { file_path: file, content: 'one\n' } }] },
    { tools: [{ name: 'Read', input: { file_path: file } }] },
    { tools: [{ name: 'Edit', input: { file_path: file, old_string: 'one', new_string: 'two' } }] },
    { tools: [{ name: 'Bash', input: { command: 'cat notes.txt', description: 'show' } }] },
    // The CLI's WebSearch tool is a side request with Anthropic's server-side web_search tool.
    { tools: [{ name: 'WebSearch', input: { query: 'claude sandbox' } }] },
    { text: 'Done.' }
  ]
}

const TEXT_LIMIT = 200

/** Text cut to TEXT_LIMIT characters: the shape is what matters, and paths vary per run. */
function trimText(value: unknown): unknown {
  return typeof value === 'string' && value.length > TEXT_LIMIT ? value.slice(0, TEXT_LIMIT) : value
}

/** A recorded body with tools reduced to their kind and name, and long text cut. */
export function trimBody(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body
  const result: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key === 'tools' && Array.isArray(value)) {
      result.tools = value.map(tool => {
        const t = tool as Record<string, unknown>
        const kept: Record<string, unknown> = {}
        if (t.type !== undefined) kept.type = t.type
        if (t.name !== undefined) kept.name = t.name
        if (t.input_schema !== undefined) kept.input_schema = { type: 'object' }
        return kept
      })
    } else if (key === 'system' || key === 'messages') {
      result[key] = trimDeep(value)
    } else {
      result[key] = value
    }
  }
  return result
}

function trimDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(trimDeep)
  if (typeof value === 'object' && value !== null) {
    const result: Record<string, unknown> = {}
    for (const [key, inner] of Object.entries(value as Record<string, unknown>))
      result[key] =
        key === 'text' || key === 'content' ? trimDeep(trimText(inner)) : trimDeep(inner)
    return result
  }
  return value
}

function hasToolResult(body: unknown): boolean {
  const messages = (body as { messages?: unknown })?.messages
  return JSON.stringify(messages ?? []).includes('"tool_result"')
}

/** One request of each shape: run, kind, path, its top-level fields, first turn or follow-up. */
export function distinctShapes(run: string, requests: RecordedRequest[]): FixtureRequest[] {
  const seen = new Set<string>()
  const kept: FixtureRequest[] = []
  for (const request of requests) {
    const body = request.body
    const fields =
      typeof body === 'object' && body !== null ? Object.keys(body).sort().join(',') : typeof body
    const key = [run, request.kind, request.method, request.path, fields, hasToolResult(body)].join(
      '|'
    )
    if (seen.has(key)) continue
    seen.add(key)
    const beta = request.headers['anthropic-beta']
    kept.push({
      run,
      kind: request.kind,
      method: request.method,
      path: request.path,
      ...(beta ? { 'anthropic-beta': Array.isArray(beta) ? beta.join(',') : beta } : {}),
      body: trimBody(body)
    })
  }
  return kept
}

function runCli(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs: number
): Promise<{ code: number | null; output: string }> {
  return new Promise(resolve => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20_000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

async function installCli(version: string, dir: string): Promise<string> {
  const result = await runCli(
    'npm',
    [
      'install',
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--prefix',
      dir,
      `@anthropic-ai/claude-code@${version}`
    ],
    process.env,
    dir,
    10 * 60_000
  )
  if (result.code !== 0)
    throw new Error(`npm install of the CLI ${version} failed:\n${result.output}`)
  return path.join(dir, 'node_modules', '.bin', 'claude')
}

/** Runs every RUNS entry once against a fresh stand-in and returns the distinct requests. */
export async function recordRequests(cli: string): Promise<FixtureRequest[]> {
  const asRoot = process.getuid?.() === 0
  const uid = 65534
  const recorded: FixtureRequest[] = []
  for (const spec of RUNS) {
    const home = mkdtempSync(path.join(os.tmpdir(), 'cli-record-home-'))
    const workspace = mkdtempSync(path.join(os.tmpdir(), 'cli-record-ws-'))
    const api = await startFakeAnthropic({ turns: scenarioTurns(workspace) })
    try {
      for (const dir of [home, workspace]) {
        chmodSync(dir, 0o755)
        if (asRoot) chownSync(dir, uid, uid)
      }
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        ANTHROPIC_BASE_URL: api.url,
        DISABLE_AUTOUPDATER: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        ...(spec.credential === 'key'
          ? { ANTHROPIC_API_KEY: 'sk-ant-api03-recording-placeholder' }
          : { CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-recording-placeholder' })
      }
      const cliArgs = [
        '-p',
        'Write notes.txt, read it, edit it, then show it with cat.',
        '--dangerously-skip-permissions',
        '--output-format',
        'stream-json',
        '--verbose',
        ...(spec.model ? ['--model', spec.model] : [])
      ]
      const [command, args] = asRoot
        ? ['setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', cli, ...cliArgs]]
        : [cli, cliArgs]
      const result = await runCli(command as string, args as string[], env, workspace, 5 * 60_000)
      if (result.code !== 0)
        throw new Error(
          `the CLI failed in run ${spec.name} (exit ${result.code}):\n${result.output}`
        )
      if (api.mainRequests().length < 2)
        throw new Error(`run ${spec.name}: the CLI made no agent-loop requests`)
      recorded.push(...distinctShapes(spec.name, api.requests))
    } finally {
      await api.close()
      rmSync(home, { recursive: true, force: true })
      rmSync(workspace, { recursive: true, force: true })
    }
  }
  return recorded
}

export function fixtureText(version: string, requests: FixtureRequest[]): string {
  return `${JSON.stringify(
    {
      '//': `Requests the real Claude Code CLI ${version} sent to __tests__/servers/fake-anthropic.ts (one of each shape), across Write, Read, Edit, Bash and WebSearch turns, with an API key (default model, claude-sonnet-4-5, claude-haiku-4-5) and an OAuth token; tool descriptions and schemas, system text and message text trimmed. Recorded by scripts/record-cli-requests.ts.`,
      requests
    },
    null,
    2
  )}\n`
}

function flag(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`)
  return at >= 0 ? argv[at + 1] : undefined
}

async function main(argv: string[]): Promise<void> {
  const version = flag(argv, 'version')
  const out = flag(argv, 'out')
  if (!version || !/^\d+\.\d+\.\d+$/.test(version) || !out)
    throw new Error('usage: record-cli-requests.ts --version X.Y.Z --out FILE [--cli PATH]')
  const installDir = mkdtempSync(path.join(os.tmpdir(), 'cli-record-install-'))
  try {
    chmodSync(installDir, 0o755)
    const cli = flag(argv, 'cli') ?? (await installCli(version, installDir))
    const requests = await recordRequests(cli)
    writeFileSync(out, fixtureText(version, requests))
    console.log(`recorded ${requests.length} request shapes of CLI ${version} in ${out}`)
  } finally {
    rmSync(installDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.log(`::error::${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  })
}
