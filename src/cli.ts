#!/usr/bin/env node
/**
 * claude-sandbox: runs the action's pipeline on a local repository, so users can try it before
 * putting it in CI. It drives the very same run() as the action, through the runner contract,
 * with publish forced to `patch`; then prints the summary and the diff.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { formatBytes } from './bounded-lines.js'
import { run } from './main.js'
import { post } from './post.js'

const HELP = `Usage: claude-sandbox [options] (--prompt TEXT | --prompt-file FILE)

Runs Claude Code in the hardened sandbox on a local git repository and writes the patch.
The API key is read from ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN) and never enters the container.

Options (each is the action input of the same name):
  --repo DIR                 repository to work on (default: current directory)
  --prompt TEXT | --prompt-file FILE
  --model NAME  --max-turns N  --timeout-minutes N
  --network restricted|open  --allowed-domains LIST
  --anthropic-base-url URL   upstream Messages API (default https://api.anthropic.com)
  --image REF                prebuilt image (skip the build)
  --build-arg KEY=VALUE      repeatable (BASE_IMAGE, BUILDER_IMAGE, ...)
  --extra-packages LIST  --ca-certificates FILE  --claude-code-version X.Y.Z
  --env KEY[=VALUE]          repeatable
  --memory 4g  --cpus 2  --pids-limit 1024
  --out DIR                  where the patch and transcript go (default: a temp directory)
  -h, --help`

const INPUT_FLAGS = [
  'prompt',
  'prompt-file',
  'model',
  'max-turns',
  'timeout-minutes',
  'network',
  'allowed-domains',
  'anthropic-base-url',
  'image',
  'extra-packages',
  'ca-certificates',
  'claude-code-version',
  'memory',
  'cpus',
  'pids-limit',
  'allowed-tools',
  'disallowed-tools',
  'append-system-prompt',
  'claude-args',
  'dockerfile'
] as const

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(INPUT_FLAGS.map(name => [name, { type: 'string' as const }])),
      repo: { type: 'string' },
      'build-arg': { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const repo = path.resolve(String(values.repo ?? process.cwd()))
  const out = path.resolve(
    String(values.out ?? mkdtempSync(path.join(os.tmpdir(), 'claude-sandbox-')))
  )
  const files = path.join(out, 'runner')
  mkdirSync(files, { recursive: true })
  const commandFiles = ['output', 'state', 'summary.md', 'env', 'path'].map(name =>
    path.join(files, name)
  )
  for (const file of commandFiles) writeFileSync(file, '')

  const env: Record<string, string> = {
    GITHUB_WORKSPACE: repo,
    GITHUB_OUTPUT: path.join(files, 'output'),
    GITHUB_STATE: path.join(files, 'state'),
    GITHUB_STEP_SUMMARY: path.join(files, 'summary.md'),
    GITHUB_ENV: path.join(files, 'env'),
    GITHUB_PATH: path.join(files, 'path'),
    RUNNER_TEMP: out,
    INPUT_PUBLISH: 'patch',
    'INPUT_ANTHROPIC-API-KEY': process.env.ANTHROPIC_API_KEY ?? '',
    'INPUT_CLAUDE-CODE-OAUTH-TOKEN': process.env.CLAUDE_CODE_OAUTH_TOKEN ?? '',
    INPUT_CACHE: 'false'
  }
  const record = values as Record<string, unknown>
  for (const name of INPUT_FLAGS) {
    const value = record[name]
    if (typeof value === 'string') env[`INPUT_${name.toUpperCase()}`] = value
  }
  if (values['build-arg']) env['INPUT_BUILD-ARGS'] = values['build-arg'].join('\n')
  if (values.env) env.INPUT_ENV = values.env.join('\n')
  Object.assign(process.env, env)

  await run()
  const state = readFileSync(env.GITHUB_STATE ?? '', 'utf8')
  for (const match of state.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) {
    if (match[1] && match[3] !== undefined) process.env[`STATE_${match[1]}`] = match[3]
  }
  await post()

  const summary = readFileSync(env.GITHUB_STEP_SUMMARY ?? '', 'utf8')
  console.log('\n' + summary)
  const outputs = readFileSync(env.GITHUB_OUTPUT ?? '', 'utf8')
  const patchPath = /^patch-path<<(\S+)\n([\s\S]*?)\n\1$/m.exec(outputs)?.[2]
  if (patchPath && existsSync(patchPath)) {
    // The summary already shows a patch that fits in it.
    if (!summary.includes('diff --git')) console.log(patchForTerminal(patchPath))
    console.log(`\nPatch: ${patchPath}\nApply it with: git -C ${repo} apply --binary ${patchPath}`)
  }
  return process.exitCode === undefined || process.exitCode === 0 ? 0 : Number(process.exitCode)
}

/** A patch larger than this is named with its size, not printed: a terminal is no place for it. */
const PRINT_PATCH_MAX_BYTES = 1024 * 1024

function patchForTerminal(patchPath: string): string {
  const size = statSync(patchPath).size
  if (size > PRINT_PATCH_MAX_BYTES) {
    return `(the patch is ${formatBytes(size)}: not printed)`
  }
  const diff = readFileSync(patchPath, 'utf8')
  return diff.trim() === '' ? '(no changes)' : diff
}

main().then(
  code => process.exit(code),
  (error: unknown) => {
    console.error(`claude-sandbox: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
