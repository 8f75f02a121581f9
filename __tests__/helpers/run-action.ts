import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DIST_INDEX = path.join(REPO_ROOT, 'dist', 'index.js')

export interface ActionRun {
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  /** `::error::` lines the step printed. */
  errors: string[]
  runnerTemp: string
  env: Record<string, string>
}

export interface ActionRunOptions {
  inputs: Record<string, string>
  workspace: string
  /** Extra runner environment (GITHUB_TOKEN, ACTIONS_*, GITHUB_EVENT_NAME ...). */
  env?: Record<string, string>
  event?: { name: string; payload: unknown }
  /** The post step gets the main step's state. */
  state?: Record<string, string>
  runnerTemp?: string
  entry?: string
  /** Called with the child once it is started (to signal it, say). */
  onStart?: (child: import('node:child_process').ChildProcess) => void
  timeoutMs?: number
  /** Run the action as this user (the test runs as root): a non-root runner, like GitHub's. */
  user?: { uid: number; gid: number; home: string }
}

/** Parses GITHUB_OUTPUT / GITHUB_STATE files (`name<<delimiter` heredocs or name=value lines). */
export function parseCommandFile(file: string): Record<string, string> {
  const result: Record<string, string> = {}
  if (!existsSync(file)) return result
  const lines = readFileSync(file, 'utf8').split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc?.[1] && heredoc[2]) {
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i] ?? '')
      result[heredoc[1]] = value.join('\n')
    } else if (line.includes('=')) {
      result[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return result
}

/** The environment a runner gives the action (action-interface.md, "The runner contract"). */
export function runnerEnv(options: ActionRunOptions, runnerTemp: string): Record<string, string> {
  const files = path.join(runnerTemp, '_runner_file_commands')
  mkdirSync(files, { recursive: true })
  const eventPath = path.join(files, 'event.json')
  writeFileSync(eventPath, JSON.stringify(options.event?.payload ?? {}))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_OUTPUT: path.join(files, 'output'),
    GITHUB_STATE: path.join(files, 'state'),
    GITHUB_STEP_SUMMARY: path.join(files, 'summary.md'),
    GITHUB_ENV: path.join(files, 'env'),
    GITHUB_PATH: path.join(files, 'path'),
    GITHUB_WORKSPACE: options.workspace,
    GITHUB_EVENT_NAME: options.event?.name ?? 'workflow_dispatch',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_API_URL: 'http://127.0.0.1:9/api',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_WORKFLOW: 'claude',
    GITHUB_JOB: 'agent',
    RUNNER_TEMP: runnerTemp,
    // Every runner has a tool cache (GitHub-hosted: /opt/hostedtoolcache), so every e2e run has
    // it mounted, as on GitHub; tests that set one up pass their own.
    RUNNER_TOOL_CACHE: defaultToolCache(),
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64'
  }
  if (process.env.DOCKER_HOST) env.DOCKER_HOST = process.env.DOCKER_HOST
  for (const [name, value] of Object.entries(options.inputs))
    env[`INPUT_${name.toUpperCase()}`] = value
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value
  return { ...env, ...options.env }
}

/** An empty tool cache shared by the e2e runs that bring none of their own. */
export function defaultToolCache(): string {
  const dir = path.join(os.tmpdir(), 'claude-sandbox-e2e', 'empty-toolcache')
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  return dir
}

/** Runs `node dist/index.js` exactly as a runner would, and collects what it wrote. */
export function runAction(options: ActionRunOptions): Promise<ActionRun> {
  const runnerTemp = options.runnerTemp ?? mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  const env = runnerEnv(options, runnerTemp)
  // A main step starts with empty command files (a runner gives each step its own); the post
  // step reads the main step's state from STATE_* variables.
  for (const file of [env.GITHUB_OUTPUT, env.GITHUB_STATE, env.GITHUB_STEP_SUMMARY]) {
    if (file && (options.state === undefined || !existsSync(file))) writeFileSync(file, '')
  }
  // A runner's files belong to the runner's user.
  if (options.user) {
    spawnSync('chown', ['-R', `${options.user.uid}:${options.user.gid}`, runnerTemp])
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.entry ?? DIST_INDEX], {
      env: options.user ? { ...env, HOME: options.user.home } : env,
      cwd: options.workspace,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {})
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000)
    options.onStart?.(child)
    child.on('error', reject)
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer)
      resolve({
        exitCode,
        signal,
        stdout,
        stderr,
        outputs: parseCommandFile(env.GITHUB_OUTPUT ?? ''),
        state: parseCommandFile(env.GITHUB_STATE ?? ''),
        summary: existsSync(env.GITHUB_STEP_SUMMARY ?? '')
          ? readFileSync(env.GITHUB_STEP_SUMMARY ?? '', 'utf8')
          : '',
        errors: stdout.split('\n').filter(line => line.startsWith('::error::')),
        runnerTemp,
        env
      })
    })
  })
}

/** Runs the post step with the main step's saved state, in the same runner temp. */
export function runPost(main: ActionRun, options: ActionRunOptions): Promise<ActionRun> {
  return runAction({ ...options, runnerTemp: main.runnerTemp, state: main.state })
}
