/**
 * By-hand proof of the sandbox's API path: the real CLI in the agent image, with no network at
 * all, reaches the host-side credential gateway through a Unix socket (socat inside forwards
 * 127.0.0.1:8080 to it), the gateway swaps the placeholder key for the real one and forwards to
 * the scripted fake Anthropic API, and the scripted Write lands in the mounted repository.
 *
 *   npx tsx scripts/try-gateway.ts [scenario.json] [image]
 *
 * Defaults: __tests__/fixtures/scenarios/write-file.json and claude-sandbox-test:dev. Run as root
 * or as a user allowed to use Docker; TRY_GATEWAY_ENV='K=V ...' adds container environment. Prints the docker command, the CLI's result, what the
 * gateway logged and what the fake API received; exits non-zero if hello.txt was not written.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway } from '../src/api-door/gateway.js'
import { loadScenario, startFakeAnthropic } from '../__tests__/servers/fake-anthropic.js'

const scenarioPath = process.argv[2] ?? '__tests__/fixtures/scenarios/write-file.json'
const image = process.argv[3] ?? 'claude-sandbox-test:dev'
const AGENT_UID = 1000 // the image's unprivileged user; we run as it because the host user is root
/** Extra container environment, e.g. TRY_GATEWAY_ENV='CLAUDE_CODE_MAX_RETRIES=1 FOO=bar'. */
const extraEnv = (process.env.TRY_GATEWAY_ENV ?? '').split(/\s+/).filter(Boolean)
const REAL_KEY = `sk-ant-try-${randomBytes(6).toString('hex')}`

async function main(): Promise<number> {
  const fake = await startFakeAnthropic(await loadScenario(scenarioPath))
  const sandboxDir = mkdtempSync(join(tmpdir(), 'gwtry-sock-'))
  chmodSync(sandboxDir, 0o755)
  const repo = mkdtempSync(join(tmpdir(), 'gwtry-repo-'))
  const gateway = await startGateway({
    socketPath: join(sandboxDir, 'gateway.sock'),
    upstream: fake.url,
    credentials: { apiKey: REAL_KEY },
    log: entry => console.log('gateway:', JSON.stringify(entry))
  })
  const name = `gwtry-${randomBytes(4).toString('hex')}`
  try {
    execFileSync('git', ['init', '-q', repo])
    writeFileSync(join(repo, 'README.md'), 'scratch repository\n')
    execFileSync('git', ['-C', repo, 'add', '.'])
    execFileSync('git', [
      '-C',
      repo,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@t',
      'commit',
      '-qm',
      'init'
    ])
    chownTree(repo, AGENT_UID)

    const args = [
      'run',
      '--rm',
      '--name',
      name,
      '--label',
      'claude-sandbox-try=1',
      '--network',
      'none',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      `/home/agent:uid=${AGENT_UID},gid=${AGENT_UID}`,
      '--pids-limit',
      '256',
      '--memory',
      '2g',
      '--cpus',
      '1',
      '--init',
      '--user',
      `${AGENT_UID}:${AGENT_UID}`,
      '-v',
      `${sandboxDir}:/run/sandbox:ro`,
      '-v',
      `${repo}:/workspace`,
      '-v',
      `${repo}/.git:/workspace/.git:ro`,
      '-e',
      'ANTHROPIC_BASE_URL=http://127.0.0.1:8080',
      '-e',
      'ANTHROPIC_API_KEY=placeholder',
      ...extraEnv.flatMap(pair => ['-e', pair]),
      image,
      'claude',
      '-p',
      'Create hello.txt',
      '--dangerously-skip-permissions',
      '--output-format',
      'stream-json',
      '--verbose'
    ]
    console.log(`$ docker ${args.map(quote).join(' ')}`)
    const started = Date.now()
    const { code, stdout, stderr } = await run('docker', args)
    const seconds = ((Date.now() - started) / 1000).toFixed(2)
    console.log(`docker exited ${code} after ${seconds} s`)
    if (stderr.trim()) console.log(`stderr:\n${stderr}`)
    const result = stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line) as Record<string, unknown>)
      .pop()
    console.log(
      'result:',
      JSON.stringify(
        result && {
          subtype: result.subtype,
          is_error: result.is_error,
          num_turns: result.num_turns,
          result: result.result,
          total_cost_usd: result.total_cost_usd
        }
      )
    )
    for (const request of fake.requests) {
      const key = request.headers['x-api-key']
      console.log(
        `fake API got ${request.kind} ${request.method} ${request.path} with ${key === REAL_KEY ? 'the real key' : `key ${JSON.stringify(key)}`}`
      )
    }
    const file = join(repo, 'hello.txt')
    const written = existsSync(file) ? readFileSync(file, 'utf8') : undefined
    console.log(
      written === undefined ? 'hello.txt was NOT written' : `hello.txt: ${JSON.stringify(written)}`
    )
    const keysOk = fake.requests.every(request => request.headers['x-api-key'] === REAL_KEY)
    return written !== undefined && keysOk && code === 0 ? 0 : 1
  } finally {
    await gateway.close()
    await fake.close()
    await run('docker', ['rm', '-f', name]).catch(() => undefined)
    rmSync(repo, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  }
}

function chownTree(path: string, uid: number): void {
  execFileSync('chown', ['-R', `${uid}:${uid}`, path])
  chownSync(path, uid, uid)
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

function run(
  command: string,
  args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

main().then(
  code => process.exit(code),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
