import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from './run-action.js'

/** Local bases built by scripts/build-local-bases.sh (no registry on these machines). */
export const LOCAL_BASE_IMAGE =
  process.env.SANDBOX_TEST_BASE_IMAGE ?? 'claude-sandbox/debian:bookworm-slim'
export const LOCAL_BUILDER_IMAGE =
  process.env.SANDBOX_TEST_BUILDER_IMAGE ?? 'claude-sandbox/node:bookworm-slim'
export const LOCAL_BUILD_ARGS = `BASE_IMAGE=${LOCAL_BASE_IMAGE}\nBUILDER_IMAGE=${LOCAL_BUILDER_IMAGE}`

/** A secret that must never be seen inside the sandbox. */
export const SECRET_API_KEY = 'sk-ant-api03-SECRET-e2e-key-do-not-leak-0123456789'

/**
 * The CA bundle every e2e build uses: the host's (the TLS-inspecting proxy's CA, so npm works in
 * the build) plus a test CA of ours whose text is unique, so a test can prove no layer keeps it.
 * One fixed file, so every test's image has the same cache key and is built once.
 */
export function testCaBundle(): string {
  const dir = path.join(os.tmpdir(), 'claude-sandbox-e2e')
  mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'ca-bundle.pem')
  const host = [
    process.env.SSL_CERT_FILE,
    process.env.NODE_EXTRA_CA_CERTS,
    '/etc/ssl/certs/ca-certificates.crt'
  ].find(candidate => candidate && existsSync(candidate))
  const content =
    (host ? readFileSync(host, 'utf8') : '') + '\n' + readFileSync(testCaPath(), 'utf8')
  if (!existsSync(file) || readFileSync(file, 'utf8') !== content) writeFileSync(file, content)
  return file
}

export function testCaPath(): string {
  return path.join(REPO_ROOT, '__tests__', 'fixtures', 'test-ca.pem')
}

/** Inputs every e2e run shares: local bases, the CA bundle, no cache service, a secret key. */
export function baseInputs(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'build-args': LOCAL_BUILD_ARGS,
    'ca-certificates': testCaBundle(),
    cache: 'false',
    'anthropic-api-key': SECRET_API_KEY,
    'timeout-minutes': '5',
    publish: 'patch',
    ...overrides
  }
}

/** A small git repository with one commit, as actions/checkout would leave it. */
export function makeRepo(
  files: Record<string, string | Buffer> = {},
  prefix = 'e2e-repo-'
): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  // mkdtemp makes it 0700; a checkout is world-readable, and the image's user must enter it.
  chmodSync(dir, 0o755)
  const all: Record<string, string | Buffer> = {
    'README.md': '# sample\n',
    'src/app.py': 'def add(a, b):\n    return a - b\n',
    ...files
  }
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), content)
  }
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'initial')
  return dir
}

/** git in `dir` as a test author (no global identity needed). */
export function git(dir: string, ...args: string[]): Buffer {
  return execFileSync(
    'git',
    ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args],
    { cwd: dir, stdio: 'pipe' }
  )
}

export function docker(...args: string[]): {
  status: number | null
  stdout: string
  stderr: string
} {
  const result = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** Containers the action started that are still there (should be none after a run). */
export function leftoverContainers(): string[] {
  return docker(
    'ps',
    '-a',
    '--filter',
    'label=org.claude-sandbox-action.run',
    '--format',
    '{{.Names}}'
  )
    .stdout.split('\n')
    .filter(Boolean)
}

export interface ScenarioRun {
  run: import('./run-action.js').ActionRun
  post: import('./run-action.js').ActionRun
  api: import('../servers/fake-anthropic.js').FakeAnthropic
  repo: string
}

/**
 * Starts the scripted model, runs the action's main and post steps through dist/ on `repo`,
 * and closes the model. `during` gets the started child (to signal it) and the fake API.
 */
export async function runScenario(
  turns: import('../servers/fake-anthropic.js').Turn[],
  options: {
    repo?: string
    inputs?: Record<string, string>
    env?: Record<string, string>
    event?: { name: string; payload: unknown }
    /** Reuse a runner temp directory (a runner's RUNNER_TEMP is the same path on every run). */
    runnerTemp?: string
    during?: (
      child: import('node:child_process').ChildProcess,
      api: import('../servers/fake-anthropic.js').FakeAnthropic
    ) => void
  } = {}
): Promise<ScenarioRun> {
  const { startFakeAnthropic } = await import('../servers/fake-anthropic.js')
  const { runAction, runPost } = await import('./run-action.js')
  const api = await startFakeAnthropic({ turns })
  const repo = options.repo ?? makeRepo()
  const inputs = baseInputs({
    prompt: 'Do the task.',
    'anthropic-base-url': api.url,
    ...options.inputs
  })
  try {
    const run = await runAction({
      inputs,
      workspace: repo,
      env: options.env,
      event: options.event,
      runnerTemp: options.runnerTemp,
      onStart: child => options.during?.(child, api)
    })
    const post = await runPost(run, {
      inputs,
      workspace: repo,
      env: options.env,
      event: options.event
    })
    return { run, post, api, repo }
  } finally {
    await api.close()
  }
}

/** The tree id of a directory's working tree as git would commit it (throw-away index). */
export function workingTreeId(dir: string): string {
  const index = path.join(mkdtempSync(path.join(os.tmpdir(), 'tree-index-')), 'index')
  const env = { ...process.env, GIT_INDEX_FILE: index }
  execFileSync('git', ['-c', `safe.directory=${dir}`, 'add', '-A'], { cwd: dir, env })
  return execFileSync('git', ['-c', `safe.directory=${dir}`, 'write-tree'], {
    cwd: dir,
    env,
    encoding: 'utf8'
  }).trim()
}
