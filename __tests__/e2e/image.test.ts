/**
 * Issue 2, acceptance 2 (and issues 12, 22): the bundled dist/ builds the hardened image through
 * the runner contract (local bases), with buildx (what GitHub-hosted runners have: Debian 13's
 * plugin here) and with the classic builder (DOCKER_CONFIG pointing at a directory without the
 * plugin), and from inside that image: the
 * pinned CLI (mounted read-only from the tool cache, not in any layer), working git, a non-root
 * user, /workspace, a passing HEALTHCHECK, and no CA material in any layer.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { startFakeAnthropic, type FakeAnthropic } from '../servers/fake-anthropic.js'
import { LOCAL_BUILD_ARGS, baseInputs, docker, makeRepo, testCaPath } from '../helpers/e2e.js'
import { runAction, runPost, type ActionRun } from '../helpers/run-action.js'
import { CLI_CONTAINER_PATH, cliBinaryPath, toolCacheRoot } from '../../src/image/cli-binary.js'

const PINNED = '2.1.330'

describe.each([
  ['buildx', false],
  ['the classic builder', true]
])('agent image built through dist/ (%s)', (_builder, classic) => {
  let api: FakeAnthropic
  let repo: string
  let run: ActionRun
  const noPlugins = mkdtempSync(path.join(os.tmpdir(), 'e2e-docker-config-'))

  beforeAll(async () => {
    api = await startFakeAnthropic({ turns: [{ text: 'Nothing to do.' }] })
    repo = makeRepo()
    // A build argument no stage reads: a key (and tag) of its own, so this builder builds.
    const nonce = randomBytes(6).toString('hex')
    const inputs = baseInputs({
      prompt: 'Say hello.',
      'anthropic-base-url': api.url,
      'build-args': `${LOCAL_BUILD_ARGS}\nIMAGE_E2E_NONCE=${nonce}`
    })
    const env: Record<string, string> = classic ? { DOCKER_CONFIG: noPlugins } : {}
    run = await runAction({ inputs, workspace: repo, env })
    await runPost(run, { inputs, workspace: repo, env })
  })

  afterAll(async () => {
    await api.close()
    rmSync(repo, { recursive: true, force: true })
    rmSync(noPlugins, { recursive: true, force: true })
    const tags = docker(
      'image',
      'inspect',
      '--format',
      '{{join .RepoTags " "}}',
      run.outputs['image-id'] ?? ''
    )
    for (const tag of tags.stdout.trim().split(' ').filter(Boolean)) docker('rmi', tag)
  })

  it('builds with the builder asked for, runs and reports the image id', () => {
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.outputs['image-id']).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(run.outputs.conclusion).toBe('success')
    expect(run.stdout).toMatch(/::group::Building the agent image/)
    if (classic) {
      expect(run.stdout).toMatch(
        /::warning::docker buildx is not installed: building with the classic builder/
      )
      expect(run.stdout).toMatch(/^Step \d+\/\d+ : FROM /m)
    } else {
      expect(docker('buildx', 'version').status).toBe(0)
      expect(run.stdout).not.toMatch(/classic builder/)
      // BuildKit's plain progress: numbered steps.
      expect(run.stdout).toMatch(/^#\d+ \[/m)
    }
  })

  // Where the action kept the CLI: the runner's tool cache (the runner's HOME without one).
  const cli = (): string =>
    cliBinaryPath(run.env.RUNNER_TOOL_CACHE || toolCacheRoot({}), PINNED, 'X64')
  const inImage = (...cmd: string[]): string =>
    execFileSync(
      'docker',
      [
        'run',
        '--rm',
        '--volume',
        `${cli()}:${CLI_CONTAINER_PATH}:ro`,
        '--read-only',
        '--tmpfs',
        '/home/agent:uid=1000,gid=1000',
        '-v',
        `${repo}:/workspace`,
        run.outputs['image-id'] ?? 'missing',
        ...cmd
      ],
      { encoding: 'utf8' }
    ).trim()

  it('runs the pinned Claude Code version, mounted: the image itself has no CLI', () => {
    expect(inImage('claude', '--version')).toContain(PINNED)
    const bare = docker(
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      run.outputs['image-id'] ?? '',
      '-c',
      `test ! -e ${CLI_CONTAINER_PATH} && echo absent`
    )
    expect(bare.stdout.trim()).toBe('absent')
    const labels = JSON.parse(
      docker(
        'image',
        'inspect',
        '--format',
        '{{json .Config.Labels}}',
        run.outputs['image-id'] ?? ''
      ).stdout
    ) as Record<string, string>
    expect(labels['org.claude-sandbox-action.cli-mount']).toBe(CLI_CONTAINER_PATH)
    expect(labels['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT/)
  })

  it('runs as a non-root user with git working on /workspace', () => {
    expect(inImage('id', '-u')).not.toBe('0')
    expect(inImage('git', '-C', '/workspace', 'log', '--format=%s', '-1')).toBe('initial')
    expect(inImage('sh', '-c', 'test -d /workspace && echo yes')).toBe('yes')
    for (const tool of ['bash', 'curl', 'rg', 'jq', 'python3', 'socat']) {
      expect(inImage('sh', '-c', `command -v ${tool}`)).not.toBe('')
    }
  })

  it('passes its HEALTHCHECK', async () => {
    const name = `e2e-health-${process.pid}`
    const started = docker(
      'run',
      '-d',
      '--name',
      name,
      '--health-interval',
      '1s',
      '--health-start-period',
      '0s',
      '--volume',
      `${cli()}:${CLI_CONTAINER_PATH}:ro`,
      '--read-only',
      '--tmpfs',
      '/home/agent:uid=1000,gid=1000',
      '-v',
      `${repo}:/workspace`,
      run.outputs['image-id'] ?? ''
    )
    expect(started.status).toBe(0)
    try {
      let status = ''
      for (let i = 0; i < 60 && status !== 'healthy'; i++) {
        await new Promise(resolve => setTimeout(resolve, 500))
        status = docker('inspect', '--format', '{{.State.Health.Status}}', name).stdout.trim()
      }
      expect(status).toBe('healthy')
    } finally {
      docker('rm', '-f', name)
    }
  })

  it('explains a missing workspace instead of starting the agent', () => {
    const result = docker('run', '--rm', run.outputs['image-id'] ?? '', 'claude', '--version')
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/\/workspace is not (mounted|a git repository)/)
  })

  it('names a forwarder that dies at start, at once, instead of starting the agent', async () => {
    // A real Unix socket where the gateway's would be, and a port socat cannot parse.
    const sockets = mkdtempSync(path.join(os.tmpdir(), 'e2e-sockets-'))
    chmodSync(sockets, 0o755)
    const server = net.createServer(socket => socket.destroy())
    await new Promise<void>(resolve => server.listen(path.join(sockets, 'gateway.sock'), resolve))
    chmodSync(path.join(sockets, 'gateway.sock'), 0o777)
    try {
      const started = Date.now()
      const result = docker(
        'run',
        '--rm',
        '--network',
        'none',
        '--read-only',
        '--tmpfs',
        '/home/agent:uid=1000,gid=1000',
        '-v',
        `${repo}:/workspace`,
        '-v',
        `${sockets}:/run/sandbox`,
        '-e',
        'SANDBOX_GATEWAY_PORT=no-such-port',
        run.outputs['image-id'] ?? '',
        'true'
      )
      expect(result.status).toBe(64)
      expect(result.stderr).toMatch(
        /forwarder for \/run\/sandbox\/gateway\.sock exited \(status \d+\) before listening on port no-such-port/
      )
      // Reported when socat exits, not after the 20 s wait for a slow start.
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      await new Promise(resolve => server.close(resolve))
      rmSync(sockets, { recursive: true, force: true })
    }
  })

  it('leaves no CA material in any layer', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-layers-'))
    try {
      execFileSync('docker', [
        'save',
        '-o',
        path.join(dir, 'image.tar'),
        run.outputs['image-id'] ?? ''
      ])
      execFileSync('tar', ['-xf', 'image.tar'], { cwd: dir })
      // A line from the middle of the test CA: only the build's CA bundle contains it.
      const marker = readFileSync(testCaPath(), 'utf8').split('\n')[5] ?? ''
      expect(marker.length).toBeGreaterThan(40)
      const layers = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
        f => f.endsWith('layer.tar') || /blobs\/sha256\/[0-9a-f]{64}$/.test(f)
      )
      expect(layers.length).toBeGreaterThan(0)
      for (const layer of layers) {
        const listing = execFileSync('tar', ['-tf', path.join(dir, layer)], {
          encoding: 'utf8',
          maxBuffer: 256 * 1024 * 1024
        })
        expect(listing).not.toMatch(/sandbox-ca\.pem|ca-bundle\.pem/)
        const found = execFileSync(
          'sh',
          [
            '-c',
            `tar -xOf "$1" 2>/dev/null | grep -c -F -- "$2" || true`,
            'sh',
            path.join(dir, layer),
            marker
          ],
          { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }
        )
        expect(`${layer}: ${found.trim()}`).toBe(`${layer}: 0`)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
