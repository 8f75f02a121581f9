/**
 * Issue 6: the sandbox's network, through dist/ with the real CLI's Bash tool in the real
 * container. `network: restricted` lets curl, git and npm reach exactly what `allowed-domains`
 * names, through the host-side egress proxy, and nothing else; `network: open` is a plain bridge
 * that still holds no key; no run leaves a container, socket or private directory behind.
 *
 * Every address here is on this machine: the host's loopback, or a Docker network this file
 * creates (its gateway address is the host's side of that bridge; the decoy is a container on
 * it). The allowed server listens on the gateway address rather than on 127.0.0.1 because the
 * container's NO_PROXY covers 127.0.0.1 (its own loopback holds the forwarders): a URL with
 * 127.0.0.1 would never reach the proxy. `localhost` is the one host name every machine resolves
 * without DNS, so it is the name the proxy is shown to resolve itself (to the HOST's loopback);
 * NO_PROXY names it too, so the probe overrides NO_PROXY for those requests only
 * (__tests__/fixtures/network-probe.sh).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import {
  createServer,
  get,
  type IncomingMessage,
  type Server,
  type ServerResponse
} from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import {
  LOCAL_BASE_IMAGE,
  LOCAL_BUILDER_IMAGE,
  SECRET_API_KEY,
  baseInputs,
  docker,
  git,
  makeRepo,
  testCaBundle,
  testCaPath
} from '../helpers/e2e.js'
import {
  REPO_ROOT,
  parseCommandFile,
  runAction,
  runPost,
  type ActionRun
} from '../helpers/run-action.js'
import { startFakeAnthropic, type FakeAnthropic, type Turn } from '../servers/fake-anthropic.js'

const RUN_LABEL = 'org.claude-sandbox-action.run'
const NET = `e2e-net-${randomBytes(4).toString('hex')}`
const DECOY = `${NET}-decoy`
const TOKEN = randomBytes(6).toString('hex')
const ALLOWED_BODY = `ALLOWED-${TOKEN}`
const DECOY_BODY = `DECOY-${TOKEN}`
const NPM_DESCRIPTION = `NPM-${TOKEN}`
const GIT_SUBJECT = `served over dumb HTTP ${TOKEN}`

function bash(command: string, timeout = 120_000) {
  return { name: 'Bash', input: { command, description: 'network probe', timeout } }
}

/** What a request to the host-side test server looked like. */
interface Seen {
  url: string
  userAgent: string
  remote: string
}

interface Site {
  gateway: string
  decoyIp: string
  decoyBridgeIp: string
  port: number
  loopPort: number
  seen: Seen[]
  servers: Server[]
  /** The served bare repository's temporary parent directory. */
  scratch: string
}

let site: Site | undefined
function need(): Site {
  if (!site) throw new Error('beforeAll did not set up the network')
  return site
}

/** A bare repository with one commit, published for git's dumb HTTP protocol. */
function makeServedRepo(): string {
  const work = makeRepo({ 'served.txt': 'from the test server\n' }, 'e2e-net-src-')
  git(work, 'commit', '-q', '--allow-empty', '-m', GIT_SUBJECT)
  const bare = path.join(mkdtempSync(path.join(os.tmpdir(), 'e2e-net-served-')), 'repo.git')
  execFileSync('git', ['clone', '-q', '--bare', work, bare])
  execFileSync('git', ['update-server-info'], { cwd: bare })
  rmSync(work, { recursive: true, force: true })
  return bare
}

/** A packument as a registry serves it, enough for `npm view`. */
function packument(base: string): string {
  const version = {
    name: 'e2e-widget',
    version: '1.2.3',
    description: NPM_DESCRIPTION,
    dist: {
      tarball: `${base}e2e-widget/-/e2e-widget-1.2.3.tgz`,
      shasum: '0000000000000000000000000000000000000000'
    }
  }
  return JSON.stringify({
    _id: 'e2e-widget',
    name: 'e2e-widget',
    description: NPM_DESCRIPTION,
    'dist-tags': { latest: '1.2.3' },
    versions: { '1.2.3': version },
    time: {
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
      '1.2.3': '2025-01-01T00:00:00.000Z'
    }
  })
}

/** The allowed upstream: a static file, a dumb-HTTP git repository and a one-package registry. */
function handler(bare: string, seen: Seen[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://test')
    seen.push({
      url: req.url ?? '',
      userAgent: String(req.headers['user-agent'] ?? ''),
      remote: req.socket.remoteAddress ?? ''
    })
    const send = (status: number, body: string | Buffer, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }
    if (url.pathname === '/hello.txt') return send(200, `${ALLOWED_BODY}\n`)
    if (url.pathname === '/e2e-widget') {
      return send(200, packument(`http://${req.headers.host ?? ''}/`), 'application/json')
    }
    if (url.pathname.startsWith('/repo.git/')) {
      const file = path.normalize(path.join(bare, url.pathname.slice('/repo.git/'.length)))
      if (file.startsWith(bare + path.sep) && existsSync(file) && lstatSync(file).isFile()) {
        return send(200, readFileSync(file), 'application/octet-stream')
      }
    }
    send(404, 'not found\n')
  }
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port))
  })
}

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 2000 }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve(body))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

function must(result: { status: number | null; stdout: string; stderr: string }, what: string) {
  if (result.status !== 0) throw new Error(`${what} failed: ${result.stderr.trim()}`)
  return result.stdout.trim()
}

function decoyLog(): string {
  const logs = docker('logs', DECOY)
  return logs.stdout + logs.stderr
}

/** Containers of this run, its private work directory, and any socket left under RUNNER_TEMP. */
function leftovers(runnerTemp: string, runId: string): string[] {
  const found: string[] = []
  const containers = docker(
    'ps',
    '-a',
    '--filter',
    `label=${RUN_LABEL}=${runId}`,
    '--format',
    '{{.Names}}'
  )
  found.push(
    ...containers.stdout
      .split('\n')
      .filter(Boolean)
      .map(name => `container ${name}`)
  )
  const walk = (dir: string, depth: number): void => {
    if (depth > 12) return
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isSocket() || entry.name.endsWith('.sock')) found.push(`socket ${full}`)
      if (entry.isDirectory()) {
        if (entry.name.endsWith('.work')) found.push(`work directory ${full}`)
        walk(full, depth + 1)
      }
    }
  }
  walk(runnerTemp, 0)
  return found
}

interface CheckedRun {
  run: ActionRun
  post: ActionRun
  api: FakeAnthropic
  repo: string
  /** What was left after the main step alone, and after the post step too. */
  afterMain: string[]
  afterPost: string[]
  networkLog: Array<Record<string, unknown>>
}

/** Like runScenario, but inspects what is left between the main and the post step. */
async function runChecked(
  turns: Turn[],
  options: {
    inputs?: Record<string, string>
    repo?: string
    /** Gets the started child, the fake API and the run's RUNNER_TEMP. */
    during?: (
      child: import('node:child_process').ChildProcess,
      api: FakeAnthropic,
      runnerTemp: string
    ) => void
  } = {}
): Promise<CheckedRun> {
  const api = await startFakeAnthropic({ turns })
  const repo = options.repo ?? makeRepo()
  const inputs = baseInputs({
    prompt: 'Do the task.',
    'anthropic-base-url': api.url,
    ...options.inputs
  })
  const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  try {
    const run = await runAction({
      inputs,
      workspace: repo,
      runnerTemp,
      onStart: child => options.during?.(child, api, runnerTemp),
      timeoutMs: 240_000
    })
    // The check must look where the run kept things: the state names the run, outputs exist.
    expect(run.state.runId).toMatch(/^[a-z0-9]+-[0-9a-f]{8}$/)
    expect(existsSync(path.join(run.runnerTemp, 'claude-sandbox', run.state.runId ?? ''))).toBe(
      true
    )
    const afterMain = leftovers(runnerTemp, run.state.runId ?? '')
    const post = await runPost(run, { inputs, workspace: repo })
    const afterPost = leftovers(runnerTemp, run.state.runId ?? '')
    const logFile = path.join(
      run.runnerTemp,
      'claude-sandbox',
      run.state.runId ?? '',
      'network.log'
    )
    const networkLog = existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(line => JSON.parse(line) as Record<string, unknown>)
      : []
    return { run, post, api, repo, afterMain, afterPost, networkLog }
  } finally {
    await api.close()
  }
}

beforeAll(async () => {
  must(docker('network', 'create', '--label', 'e2e-net=network.test', NET), 'docker network create')
  const gateway = must(
    docker('network', 'inspect', NET, '--format', '{{range .IPAM.Config}}{{.Gateway}}{{end}}'),
    'docker network inspect'
  )
  // The decoy: a tiny server in a container of our own network, also attached to the default
  // bridge so that `network: open` (a container on the default bridge) can reach it.
  must(
    docker(
      'run',
      '-d',
      '--rm',
      '--name',
      DECOY,
      '--network',
      NET,
      '--label',
      'e2e-net=network.test',
      '--user',
      '65534:65534',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--entrypoint',
      'node',
      LOCAL_BUILDER_IMAGE,
      '-e',
      `require('http').createServer((q, s) => { console.log('GET ' + q.url); s.end('${DECOY_BODY}\\n') }).listen(8000)`
    ),
    'docker run decoy'
  )
  must(docker('network', 'connect', 'bridge', DECOY), 'docker network connect')
  const ip = (network: string) =>
    must(
      docker(
        'inspect',
        DECOY,
        '--format',
        `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`
      ),
      'docker inspect decoy'
    )
  const decoyIp = ip(NET)
  const decoyBridgeIp = ip('bridge')
  // Wait until the decoy answers (bounded: 50 tries, 10 s).
  const deadline = Date.now() + 10_000
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await httpText(`http://${decoyIp}:8000/ready`)).includes(DECOY_BODY)) break
    } catch (error: unknown) {
      if (attempt >= 50 || Date.now() > deadline) throw error
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }

  const bare = makeServedRepo()
  const seen: Seen[] = []
  const onGateway = createServer(handler(bare, seen))
  const onLoopback = createServer(handler(bare, seen))
  const port = await listen(onGateway, gateway)
  const loopPort = await listen(onLoopback, '127.0.0.1')
  site = {
    gateway,
    decoyIp,
    decoyBridgeIp,
    port,
    loopPort,
    seen,
    servers: [onGateway, onLoopback],
    scratch: path.dirname(bare)
  }
}, 60_000)

afterAll(async () => {
  for (const server of site?.servers ?? []) server.closeAllConnections()
  await Promise.all(
    (site?.servers ?? []).map(server => new Promise(resolve => server.close(resolve)))
  )
  docker('rm', '-f', DECOY)
  docker('network', 'rm', NET)
  if (site) rmSync(site.scratch, { recursive: true, force: true })
})

describe('network: restricted', () => {
  it('lets curl, git and npm reach allowed-domains through the proxy, and nothing else', async () => {
    const { gateway, port, loopPort, decoyIp, decoyBridgeIp, seen } = need()
    const repo = makeRepo({
      'probe.sh': readFileSync(
        path.join(REPO_ROOT, '__tests__', 'fixtures', 'network-probe.sh'),
        'utf8'
      )
    })
    const { run, afterMain, afterPost, networkLog } = await runChecked(
      [
        {
          tools: [
            bash(
              `bash /workspace/probe.sh ${gateway} ${port} ${loopPort} ${decoyIp} ${decoyBridgeIp}`
            )
          ]
        },
        { text: 'Probed.' }
      ],
      {
        repo,
        inputs: {
          // The agent image on a base that has npm (the bundled image has none; users add it with
          // extra-packages or their own base). Everything else is the bundled Dockerfile.
          'build-args': `BASE_IMAGE=${LOCAL_BUILDER_IMAGE}\nBUILDER_IMAGE=${LOCAL_BUILDER_IMAGE}`,
          'allowed-domains': [
            `${gateway}:${port}  # the test server, by address`,
            'localhost  # listed by name: resolved by the proxy on the host',
            `127.0.0.1:${loopPort}  # what localhost resolves to, for this one port only`,
            `[::1]:${loopPort}  # where localhost also resolves to ::1`
          ].join('\n')
        }
      }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const evidence = (name: string) => {
      const file = path.join(repo, 'evidence', name)
      return existsSync(file) ? readFileSync(file, 'utf8') : `(missing ${name})`
    }
    expect(evidence('finished').trim()).toBe('done')

    // curl, plain HTTP through the proxy named by the environment.
    expect(evidence('allowed-http.status')).toBe('200')
    expect(evidence('allowed-http.body').trim()).toBe(ALLOWED_BODY)
    expect(evidence('allowed-http.err')).toContain(
      "Uses proxy env variable http_proxy == 'http://127.0.0.1:8081'"
    )
    // curl, CONNECT tunnel (how HTTPS goes) to the same allowed host.
    expect(evidence('allowed-connect.status')).toBe('200')
    expect(evidence('allowed-connect.body').trim()).toBe(ALLOWED_BODY)
    expect(evidence('allowed-connect.err')).toMatch(/CONNECT .*:\d+ HTTP\/1\.1/)
    // git over (dumb) HTTP.
    expect(evidence('allowed-git.rc').trim()).toBe('0')
    expect(evidence('allowed-git-log.out').trim()).toBe(GIT_SUBJECT)
    // npm's own HTTP client, against the one-package registry.
    expect(evidence('allowed-npm.rc').trim()).toBe('0')
    expect(evidence('allowed-npm.out').trim()).toBe(NPM_DESCRIPTION)
    // A host name the proxy resolved with the host's resolver.
    expect(evidence('allowed-name.status')).toBe('200')
    expect(evidence('allowed-name.body').trim()).toBe(ALLOWED_BODY)
    // Each client's requests reached the server (the container has no other way out).
    const agents = (pattern: RegExp) => seen.filter(request => pattern.test(request.userAgent))
    expect(agents(/^curl\//).map(request => request.url)).toEqual([
      '/hello.txt',
      '/hello.txt',
      '/hello.txt'
    ])
    expect(agents(/^git\//).some(request => request.url.startsWith('/repo.git/info/refs'))).toBe(
      true
    )
    expect(agents(/^npm\//).map(request => request.url)).toContain('/e2e-widget')

    // Denied by the proxy, with its reason.
    for (const name of [
      'denied-decoy',
      'denied-decoy-bridge',
      'denied-name',
      'denied-private-name'
    ]) {
      expect([name, evidence(`${name}.status`)]).toEqual([name, '403'])
      expect(evidence(`${name}.body`)).toMatch(/^claude-sandbox proxy: /)
    }
    expect(evidence('denied-decoy.body')).toContain('host not in allowed-domains')
    expect(evidence('denied-name.body')).toContain(
      'host not in allowed-domains: decoy.e2e-net.invalid'
    )
    expect(evidence('denied-private-name.body')).toContain(
      'host resolves to a private address: localhost'
    )
    // A CONNECT the proxy refuses: curl reports the 403 of the CONNECT and sends nothing on.
    expect(evidence('denied-connect.err')).toMatch(
      /CONNECT tunnel failed, response 403|Received HTTP code 403/
    )
    // Around the proxy: no route at all, not even to the allowed server.
    for (const name of ['direct-decoy', 'direct-allowed']) {
      expect([name, evidence(`${name}.status`)]).toEqual([name, '000'])
      expect(evidence(`${name}.err`)).toMatch(/Network is unreachable|Couldn't connect/)
    }
    expect(evidence('direct-socket.out').trim().split('\n')).toEqual([
      `${decoyIp} ENETUNREACH`,
      `${decoyBridgeIp} ENETUNREACH`,
      `${gateway} ENETUNREACH`
    ])
    // No resolver is reachable: EAI_AGAIN (-3, "temporary failure"), not a resolver's "no such name".
    expect(evidence('dns-getent.rc').trim()).not.toBe('0')
    expect(evidence('dns-python.out').trim()).toBe('gaierror -3')
    // Only loopback, and no route.
    const interfaces = evidence('interfaces')
      .split('\n')
      .slice(2)
      .map(line => line.split(':')[0]?.trim())
      .filter(Boolean)
    expect(interfaces).toEqual(['lo'])
    expect(evidence('routes').trim().split('\n')).toHaveLength(1)
    // The decoy never saw the agent.
    expect(decoyLog()).not.toContain('/from-agent')

    // Every decision is in the proxy's log, and the job summary lists the denied hosts.
    const decisions = networkLog.map(
      entry =>
        `${String(entry.method)} ${String(entry.host)}:${String(entry.port)} ${entry.allowed ? 'allowed' : 'denied'}`
    )
    expect(decisions).toEqual(
      expect.arrayContaining([
        `HTTP ${gateway}:${port} allowed`,
        `CONNECT ${gateway}:${port} allowed`,
        `HTTP localhost:${loopPort} allowed`,
        `HTTP ${decoyIp}:8000 denied`,
        `HTTP ${decoyBridgeIp}:8000 denied`,
        `CONNECT ${decoyIp}:8000 denied`,
        'HTTP decoy.e2e-net.invalid:8000 denied',
        `HTTP localhost:${port} denied`
      ])
    )
    expect(run.summary).toContain('Network: denied hosts')
    for (const host of [decoyIp, decoyBridgeIp, 'decoy.e2e-net.invalid', 'localhost']) {
      expect(run.summary).toContain(`| \`${host}\` |`)
    }
    // The summary may be public: it names the host, not the private address it resolved to.
    expect(run.summary).toMatch(/localhost {2}# resolves to a private address/)

    // The key never entered: the placeholder only, and no trace of the real one in the evidence.
    expect(evidence('env')).toMatch(/^ANTHROPIC_API_KEY=sk-ant-sandbox-placeholder/m)
    for (const file of readdirSync(path.join(repo, 'evidence'))) {
      expect(evidence(file)).not.toContain(SECRET_API_KEY)
    }
    expect(afterMain).toEqual([])
    expect(afterPost).toEqual([])
  })
})

describe('network: open', () => {
  it('reaches the decoy on the bridge, and the key is still not inside', async () => {
    const { decoyBridgeIp } = need()
    const probe = [
      'mkdir -p /workspace/evidence && cd /workspace/evidence',
      `curl -sS --max-time 10 http://${decoyBridgeIp}:8000/from-agent-open > decoy 2>&1`,
      'env > env',
      'cat "$SSL_CERT_FILE" > ca-bundle 2>&1',
      'for f in /proc/[0-9]*/environ; do echo "== $f"; tr "\\0" "\\n" < "$f" 2>&1; done > proc-environ 2>&1',
      // The socket directory is traversable, not listable: ask for each socket by name.
      'for s in gateway proxy; do test -S /run/sandbox/$s.sock && echo $s.sock; done > sandbox-dir; true'
    ].join('; ')
    const { run, repo, api, afterMain, afterPost, networkLog } = await runChecked(
      [{ tools: [bash(probe)] }, { text: 'Reached it.' }],
      { inputs: { network: 'open' } }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const evidence = (name: string) => readFileSync(path.join(repo, 'evidence', name), 'utf8')
    expect(evidence('decoy').trim()).toBe(DECOY_BODY)
    expect(decoyLog()).toContain('GET /from-agent-open')
    // No proxy in open mode: no proxy variables, no proxy socket, no proxy log.
    const env = evidence('env')
    expect(env).not.toMatch(/^(HTTPS?_PROXY|https?_proxy)=/m)
    expect(evidence('sandbox-dir').trim()).toBe('gateway.sock')
    // ca-certificates is trusted in addition to the public roots: the one bundle the tools read
    // holds both (the image keeps no per-certificate directory to fall back on).
    const bundle = evidence('ca-bundle')
    const testCaLine = readFileSync(testCaPath(), 'utf8').split('\n')[5] ?? 'missing'
    expect(bundle).toContain(testCaLine)
    const certificates = (pem: string): number =>
      pem.split('-----BEGIN CERTIFICATE-----').length - 1
    expect(certificates(bundle)).toBe(
      tls.rootCertificates.length + certificates(readFileSync(testCaBundle(), 'utf8'))
    )
    expect(networkLog).toEqual([])
    // The key: a placeholder in the environment, the real one nowhere inside.
    expect(env).toMatch(/^ANTHROPIC_API_KEY=sk-ant-sandbox-placeholder/m)
    expect(evidence('proc-environ')).toContain('== /proc/')
    for (const name of ['env', 'proc-environ', 'decoy'])
      expect(evidence(name)).not.toContain(SECRET_API_KEY)
    // ... while the model API got it, from the gateway.
    expect(api.requests.length).toBeGreaterThanOrEqual(2)
    for (const request of api.requests) expect(request.headers['x-api-key']).toBe(SECRET_API_KEY)
    expect(afterMain).toEqual([])
    expect(afterPost).toEqual([])
  })
})

describe('nothing is left behind (restricted mode, where the proxy runs)', () => {
  const partialThenSleep: Turn[] = [
    {
      tools: [
        {
          name: 'Write',
          input: { file_path: '/workspace/partial.txt', content: 'work in progress\n' }
        }
      ]
    },
    // A long-running command (the CLI refuses a bare `sleep`).
    { tools: [bash('python3 -c "import time; time.sleep(600)"', 600_000)] },
    { text: 'never reached' }
  ]

  it('after a failure', async () => {
    const { run, afterMain, afterPost } = await runChecked(
      [
        {
          error: { status: 401, type: 'authentication_error', message: 'invalid x-api-key' },
          repeat: 20
        }
      ],
      { inputs: { env: 'CLAUDE_CODE_MAX_RETRIES=0' } }
    )
    expect(run.outputs.conclusion).toBe('failure')
    expect(afterMain).toEqual([])
    expect(afterPost).toEqual([])
  })

  it('after a timeout', async () => {
    const { run, afterMain, afterPost } = await runChecked(partialThenSleep, {
      inputs: { 'timeout-minutes': '0.3' }
    })
    expect(run.outputs.conclusion).toBe('timeout')
    expect(afterMain).toEqual([])
    expect(afterPost).toEqual([])
  })

  it('after cancellation', async () => {
    let whileRunning: string[] = []
    const { run, afterMain, afterPost } = await runChecked(partialThenSleep, {
      during: (child, api, runnerTemp) => {
        // Signal once the agent is in its second turn (the sleep), bounded in time.
        const deadline = Date.now() + 120_000
        const timer = setInterval(() => {
          if (api.mainRequests().length >= 2 || Date.now() > deadline) {
            clearInterval(timer)
            setTimeout(() => {
              // What the check finds while the run is up, so an empty list later means something.
              const state = parseCommandFile(
                path.join(runnerTemp, '_runner_file_commands', 'state')
              )
              whileRunning = leftovers(runnerTemp, state.runId ?? '')
              child.kill('SIGTERM')
            }, 1500)
          }
        }, 200)
      }
    })
    expect(run.outputs.conclusion).toBe('cancelled')
    const runId = run.state.runId ?? ''
    expect(whileRunning.map(item => item.replace(run.runnerTemp, '<temp>')).sort()).toEqual([
      `container claude-sandbox-${runId}`,
      `socket <temp>/claude-sandbox/${runId}.work/sockets/gateway.sock`,
      `socket <temp>/claude-sandbox/${runId}.work/sockets/proxy.sock`,
      `work directory <temp>/claude-sandbox/${runId}.work`
    ])
    expect(afterMain).toEqual([])
    expect(afterPost).toEqual([])
  })
})

describe('checkDaemonSeesDirectory', () => {
  let scratch = ''
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'e2e-net-vis-'))
  })
  afterAll(() => rmSync(scratch, { recursive: true, force: true }))

  /** Runs the check in a process of its own, optionally in a mount namespace the daemon lacks. */
  function check(
    dir: string,
    namespaceSetup?: string
  ): { ok: boolean; name?: string; line?: string; ms?: number } {
    const script = path.join(scratch, 'check.mts')
    writeFileSync(
      script,
      [
        `import { checkDaemonSeesDirectory } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'sandbox', 'daemon-visibility.ts'))}`,
        'const started = Date.now()',
        'try {',
        `  await checkDaemonSeesDirectory(process.argv[2] ?? '', ${JSON.stringify(LOCAL_BASE_IMAGE)})`,
        '  console.log(JSON.stringify({ ok: true, ms: Date.now() - started }))',
        '} catch (error) {',
        '  console.log(JSON.stringify({ ok: false, name: error.name, line: error.line ?? error.message }))',
        '}'
      ].join('\n')
    )
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx')
    const command = `${namespaceSetup ?? 'true'} && exec "$0" "$1" "$2"`
    const wrapped = namespaceSetup
      ? ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', command, tsx, script, dir]]
      : ['sh', ['-c', command, tsx, script, dir]]
    const result = spawnSync(wrapped[0] as string, wrapped[1] as string[], {
      encoding: 'utf8',
      timeout: 60_000
    })
    const last = result.stdout.trim().split('\n').pop() ?? ''
    if (!last.startsWith('{')) throw new Error(`check failed to run: ${result.stderr}`)
    return JSON.parse(last) as { ok: boolean; name?: string; line?: string; ms?: number }
  }

  it('passes for a directory the daemon sees, and leaves nothing in it', () => {
    const dir = mkdtempSync(path.join(scratch, 'seen-'))
    const result = check(dir)
    expect(result).toMatchObject({ ok: true })
    expect(readdirSync(dir)).toEqual([])
  })

  it('explains Docker-in-Docker when the daemon sees another filesystem', () => {
    // A private mount namespace stands in for a runner whose filesystem the daemon does not
    // share: a tmpfs mounted there is invisible to the daemon, exactly like a DinD sidecar's view.
    const dir = mkdtempSync(path.join(scratch, 'unseen-'))
    const other = check(dir, `mount -t tmpfs tmpfs ${dir}`)
    expect(other).toMatchObject({ ok: false, name: 'ConfigurationError' })
    expect(other.line).toMatch(
      /The Docker daemon does not see the runner's filesystem: .* is another, different directory/
    )
    expect(other.line).toMatch(/Docker-in-Docker/)
    expect(other.line).toMatch(/RUNNER_TEMP/)
    const missing = check(
      path.join(dir, 'only-here'),
      `mount -t tmpfs tmpfs ${dir} && mkdir ${dir}/only-here`
    )
    expect(missing).toMatchObject({ ok: false, name: 'ConfigurationError' })
    expect(missing.line).toMatch(/only-here does not exist/)
    expect(readdirSync(dir)).toEqual([])
  })
})
