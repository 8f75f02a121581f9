import { describe, it, expect, afterEach } from '@jest/globals'
import {
  PLACEHOLDER_API_KEY,
  PLACEHOLDER_OAUTH_TOKEN,
  RUN_LABEL,
  SANDBOX_MOUNT
} from '../../src/constants.js'
import {
  clientEnvForRun,
  containerEnv,
  dockerRunArgs,
  type ContainerSpec
} from '../../src/sandbox/run-args.js'

function spec(extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: 'claude-sandbox-run-42',
    runId: '42',
    image: 'claude-sandbox-agent:abc',
    workspace: '/home/runner/work/repo',
    gitPath: '/home/runner/work/repo/.git',
    socketDir: '/tmp/run-42/sockets',
    user: { uid: 1001, gid: 121 },
    home: '/home/agent',
    network: 'restricted',
    proxy: true,
    memory: '3g',
    cpus: '1.5',
    pidsLimit: 512,
    userEnv: {},
    credentialKind: 'api-key',
    command: ['claude', '-p', '--verbose'],
    ...extra
  }
}

/** Every value given to `flag` (for flags that may repeat, such as --volume). */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] ?? ''] : []))
}

/** The single value of a flag that must appear exactly once. */
function valueOf(args: string[], flag: string): string {
  const values = valuesOf(args, flag)
  expect(values).toHaveLength(1)
  return values[0] ?? ''
}

describe('dockerRunArgs hardening', () => {
  const args = dockerRunArgs(spec())

  it('drops every capability and privilege escalation, read-only root, init, own uid:gid', () => {
    expect(args[0]).toBe('run')
    expect(valueOf(args, '--cap-drop')).toBe('ALL')
    expect(valueOf(args, '--security-opt')).toBe('no-new-privileges:true')
    expect(args).toContain('--read-only')
    expect(args).toContain('--init')
    expect(valueOf(args, '--user')).toBe('1001:121')
    expect(valueOf(args, '--name')).toBe('claude-sandbox-run-42')
    expect(valueOf(args, '--label')).toBe(`${RUN_LABEL}=42`)
  })

  it('keeps no daemon-side copy of the output (the action reads it from the attached client)', () => {
    expect(valueOf(args, '--log-driver')).toBe('none')
  })

  it('limits pids, memory without extra swap, and cpus', () => {
    expect(valueOf(args, '--pids-limit')).toBe('512')
    expect(valueOf(args, '--memory')).toBe('3g')
    expect(valueOf(args, '--memory-swap')).toBe('3g')
    expect(valueOf(args, '--cpus')).toBe('1.5')
  })

  it('gives tmpfs for /tmp and the home, the home owned by the run user', () => {
    const tmpfs = valuesOf(args, '--tmpfs')
    expect(tmpfs).toHaveLength(2)
    expect(tmpfs[0]).toMatch(/^\/tmp:rw,nosuid,nodev,[^ ]*mode=1777$/)
    expect(tmpfs[1]).toMatch(/^\/home\/agent:rw,nosuid,nodev,[^ ]*mode=0700,uid=1001,gid=121$/)
  })

  it('mounts only the workspace, its .git read-only on top and the socket dir read-only', () => {
    expect(valuesOf(args, '--volume')).toEqual([
      '/home/runner/work/repo:/workspace:rw',
      '/home/runner/work/repo/.git:/workspace/.git:ro',
      `/tmp/run-42/sockets:${SANDBOX_MOUNT}:ro`
    ])
    expect(args.join(' ')).not.toMatch(/--mount|-v |--volumes-from/)
    expect(valueOf(args, '--workdir')).toBe('/workspace')
  })

  it('is never privileged, never unconfined, never given the docker socket', () => {
    const widening = ['--privileged', '--cap-add', '--device', '--pid', '--ipc', '--userns']
    for (const variant of [spec(), spec({ network: 'open', proxy: false })]) {
      const args = dockerRunArgs(variant)
      const flags = args.map(arg => arg.split('=')[0])
      for (const flag of widening) expect(flags).not.toContain(flag)
      const text = args.join('\n')
      expect(text).not.toContain('unconfined')
      expect(text).not.toContain('docker.sock')
    }
  })

  it('ends with the image and the command', () => {
    expect(args.slice(-4)).toEqual(['claude-sandbox-agent:abc', 'claude', '-p', '--verbose'])
  })

  it('has no network for restricted, the default bridge for open', () => {
    expect(valueOf(args, '--network')).toBe('none')
    expect(valueOf(dockerRunArgs(spec({ network: 'open', proxy: false })), '--network')).toBe(
      'bridge'
    )
  })
})

describe('dockerRunArgs with the runner’s toolchain', () => {
  const toolchain = spec({
    toolCache: '/opt/hostedtoolcache',
    workspaceAlias: '/home/runner/work/repo',
    toolchainEnv: {
      PATH: '/opt/hostedtoolcache/node/20.11.1/x64/bin:/usr/local/bin:/usr/bin:/bin',
      JAVA_HOME: '/opt/hostedtoolcache/Java_Temurin-Hotspot_jdk/17.0.10-7/x64'
    }
  })
  const args = dockerRunArgs(toolchain)

  it('mounts the tool cache read-only at its own path, the repository again at its host path', () => {
    expect(valuesOf(args, '--volume')).toEqual([
      '/home/runner/work/repo:/workspace:rw',
      '/home/runner/work/repo/.git:/workspace/.git:ro',
      `/tmp/run-42/sockets:${SANDBOX_MOUNT}:ro`,
      // The second mount of the repository has its .git read-only on top too.
      '/home/runner/work/repo:/home/runner/work/repo:rw',
      '/home/runner/work/repo/.git:/home/runner/work/repo/.git:ro',
      '/opt/hostedtoolcache:/opt/hostedtoolcache:ro'
    ])
    expect(valueOf(args, '--workdir')).toBe('/workspace')
    // The entrypoint marks that second path safe for git too.
    expect(valuesOf(args, '--env')).toContain('SANDBOX_WORKSPACE_ALIAS=/home/runner/work/repo')
    expect(containerEnv(spec({})).SANDBOX_WORKSPACE_ALIAS).toBeUndefined()
  })

  it('names the toolchain check for the entrypoint only when there is one, over the env input', () => {
    const env = containerEnv(
      spec({ toolProbe: 'tool-probe.sh', userEnv: { SANDBOX_TOOL_PROBE: '../elsewhere.sh' } })
    )
    expect(env.SANDBOX_TOOL_PROBE).toBe('tool-probe.sh')
    expect(containerEnv(spec({})).SANDBOX_TOOL_PROBE).toBeUndefined()
  })

  it('gives PATH and the toolchain variables inline, under the env input and the action’s own', () => {
    const envs = valuesOf(args, '--env')
    expect(envs).toContain(
      'PATH=/opt/hostedtoolcache/node/20.11.1/x64/bin:/usr/local/bin:/usr/bin:/bin'
    )
    expect(envs).toContain('JAVA_HOME=/opt/hostedtoolcache/Java_Temurin-Hotspot_jdk/17.0.10-7/x64')
    const overridden = containerEnv({
      ...toolchain,
      userEnv: { JAVA_HOME: '/usr/lib/jvm/mine' },
      toolchainEnv: { JAVA_HOME: '/opt/hostedtoolcache/j', HOME: '/evil', ANTHROPIC_BASE_URL: 'x' }
    })
    expect(overridden.JAVA_HOME).toBe('/usr/lib/jvm/mine')
    expect(overridden.HOME).toBe('/home/agent')
    expect(overridden.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:8080')
  })

  it('adds nothing when the tool cache is left out', () => {
    expect(valuesOf(dockerRunArgs(spec()), '--volume')).toHaveLength(3)
    expect(Object.keys(containerEnv(spec()))).not.toContain('PATH')
  })
})

describe('dockerRunArgs environment', () => {
  it("passes the env input's values by name only, the action's own inline", () => {
    const secret = 'value-that-must-not-be-on-a-command-line'
    const args = dockerRunArgs(spec({ userEnv: { DEPLOY_TOKEN: secret, PLAIN: 'x' } }))
    const envs = valuesOf(args, '--env')
    expect(envs).toContain('DEPLOY_TOKEN')
    expect(envs).toContain('PLAIN')
    expect(args.some(arg => arg.includes(secret))).toBe(false)
    expect(envs).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:8080')
    expect(envs).toContain(`ANTHROPIC_API_KEY=${PLACEHOLDER_API_KEY}`)
    expect(envs).toContain('HOME=/home/agent')
    // Every variable of containerEnv is passed, once.
    expect(envs.map(e => e.split('=')[0]).sort()).toEqual(
      Object.keys(containerEnv(spec({ userEnv: { DEPLOY_TOKEN: secret, PLAIN: 'x' } }))).sort()
    )
  })

  it("gives the action's value inline when the env input names one of its variables", () => {
    const envs = valuesOf(dockerRunArgs(spec({ userEnv: { CI: 'false' } })), '--env')
    expect(envs).toContain('CI=true')
    expect(envs).not.toContain('CI')
  })
})

describe('containerEnv', () => {
  const saved = { ...process.env }
  afterEach(() => {
    for (const key of ['GITHUB_TOKEN', 'ACTIONS_RUNTIME_TOKEN', 'INPUT_ANTHROPIC-API-KEY'])
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
  })

  it('is exactly the allow-list for an API key run behind the proxy', () => {
    expect(containerEnv(spec({ userEnv: { MY_VAR: 'mine' } }))).toEqual({
      MY_VAR: 'mine',
      HOME: '/home/agent',
      CI: 'true',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080',
      ANTHROPIC_API_KEY: PLACEHOLDER_API_KEY,
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      SANDBOX_DIR: SANDBOX_MOUNT,
      SANDBOX_REQUIRE_GATEWAY: '1',
      SANDBOX_GATEWAY_PORT: '8080',
      SANDBOX_PROXY_PORT: '8081',
      HTTP_PROXY: 'http://127.0.0.1:8081',
      HTTPS_PROXY: 'http://127.0.0.1:8081',
      http_proxy: 'http://127.0.0.1:8081',
      https_proxy: 'http://127.0.0.1:8081',
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1'
    })
  })

  it('gives the OAuth placeholder, and no API key, for an OAuth token', () => {
    const env = containerEnv(spec({ credentialKind: 'oauth' }))
    expect(env.CLAUDE_CODE_OAUTH_TOKEN).toBe(PLACEHOLDER_OAUTH_TOKEN)
    expect(env).not.toHaveProperty('ANTHROPIC_API_KEY')
    expect(containerEnv(spec())).not.toHaveProperty('CLAUDE_CODE_OAUTH_TOKEN')
  })

  it('sets proxy variables only when the proxy runs', () => {
    const env = containerEnv(spec({ network: 'open', proxy: false }))
    for (const key of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY'])
      expect(env).not.toHaveProperty(key)
  })

  it('points every CA variable at the bundle in the socket dir only when one is given', () => {
    const bundle = `${SANDBOX_MOUNT}/sandbox-ca.pem`
    expect(containerEnv(spec({ caBundleName: 'sandbox-ca.pem' }))).toMatchObject({
      NODE_EXTRA_CA_CERTS: bundle,
      SSL_CERT_FILE: bundle,
      GIT_SSL_CAINFO: bundle,
      REQUESTS_CA_BUNDLE: bundle,
      PIP_CERT: bundle,
      CURL_CA_BUNDLE: bundle
    })
    expect(Object.keys(containerEnv(spec())).filter(k => /CA_|CERT/.test(k))).toEqual([])
  })

  it("never takes anything from the runner's environment", () => {
    process.env.GITHUB_TOKEN = 'ghs_fake_runner_token'
    process.env.ACTIONS_RUNTIME_TOKEN = 'fake_runtime_token'
    process.env['INPUT_ANTHROPIC-API-KEY'] = 'sk-ant-real-key'
    const env = containerEnv(spec())
    expect(env).not.toHaveProperty('GITHUB_TOKEN')
    expect(env).not.toHaveProperty('ACTIONS_RUNTIME_TOKEN')
    const values = Object.values(env).join('\n')
    expect(values).not.toMatch(/ghs_fake_runner_token|fake_runtime_token|sk-ant-real-key/)
    expect(dockerRunArgs(spec()).join('\n')).not.toMatch(/GITHUB_TOKEN|ACTIONS_RUNTIME|INPUT_/)
  })
})

describe('clientEnvForRun', () => {
  it("is the runner's environment with the env input's values on top", () => {
    const env = clientEnvForRun(spec({ userEnv: { DEPLOY_TOKEN: 's3cret', LANG: 'C.UTF-8' } }), {
      PATH: '/usr/bin',
      LANG: 'de_DE.UTF-8'
    })
    expect(env).toEqual({ PATH: '/usr/bin', LANG: 'C.UTF-8', DEPLOY_TOKEN: 's3cret' })
  })
})

describe('the CLI binary mount', () => {
  it('mounts the binary the action provides read-only, and nothing without one', () => {
    const hostPath = '/opt/hostedtoolcache/claude-code/2.1.330/x64/claude'
    const withCli = dockerRunArgs(
      spec({ cliBinary: { hostPath, containerPath: '/usr/local/bin/claude' } })
    )
    expect(valuesOf(withCli, '--volume')).toContain(`${hostPath}:/usr/local/bin/claude:ro`)
    // Before the image: everything after it is the command.
    expect(withCli.indexOf(`${hostPath}:/usr/local/bin/claude:ro`)).toBeLessThan(
      withCli.indexOf(spec().image)
    )
    expect(valuesOf(dockerRunArgs(spec()), '--volume').join(' ')).not.toContain('claude:ro')
  })
})
