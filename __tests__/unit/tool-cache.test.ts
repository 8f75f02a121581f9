import { describe, it, expect } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  availableToolchains,
  containerPath,
  planToolCache,
  prepareToolchain,
  toolCacheRoot,
  toolchainEnv,
  unusableMountTarget,
  withoutToolchains,
  workspaceAlias
} from '../../src/sandbox/tool-cache.js'
import {
  brokenToolsWarning,
  parseProbeOutput,
  failedProbes,
  isProbeLine,
  probeFailure,
  probeScript
} from '../../src/sandbox/tool-probe.js'

const ROOT = '/opt/hostedtoolcache'
const NODE_BIN = `${ROOT}/node/20.11.1/x64/bin`
const PY = `${ROOT}/Python/3.12.2/x64`
const WORKSPACE = '/home/runner/work/app/app'
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The PATH a job has after setup-node and setup-python (they prepend) on a hosted runner. */
const STEP_PATH = [
  `${PY}/bin`,
  PY,
  NODE_BIN,
  '/home/runner/.local/bin',
  `${WORKSPACE}/.venv/bin`,
  '/snap/bin',
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/bin',
  `${ROOT}/../../../etc`,
  NODE_BIN
].join(':')

describe('planToolCache', () => {
  const env = {
    PATH: STEP_PATH,
    JAVA_HOME: `${ROOT}/Java_Temurin-Hotspot_jdk/17.0.10-7/x64`,
    JAVA_HOME_17_X64: `${ROOT}/Java_Temurin-Hotspot_jdk/17.0.10-7/x64`,
    JAVA_HOME_11_X64: '/usr/lib/jvm/temurin-11-jdk-amd64',
    GOROOT: `${ROOT}/go/1.22.1/x64`,
    GOPATH: '/home/runner/go',
    pythonLocation: PY,
    Python_ROOT_DIR: PY,
    Python3_ROOT_DIR: PY,
    PKG_CONFIG_PATH: `${PY}/lib/pkgconfig:/usr/lib/pkgconfig`,
    LD_LIBRARY_PATH: '/usr/local/lib',
    VIRTUAL_ENV: `${WORKSPACE}/.venv`,
    GITHUB_TOKEN: 'ghs_secret',
    RUNNER_TOOL_CACHE: ROOT,
    NODE_OPTIONS: `--require ${ROOT}/evil.js`
  }
  const plan = planToolCache(ROOT, STEP_PATH, env, WORKSPACE)

  it("keeps the step's PATH entries under the tool cache and the workspace, in order, once", () => {
    expect(plan.pathEntries).toEqual([`${PY}/bin`, PY, NODE_BIN, `${WORKSPACE}/.venv/bin`])
  })

  it('names each toolchain by its tool, version and architecture directories', () => {
    expect(plan.toolchains.map(t => [t.tool, t.version, t.arch, t.dir])).toEqual([
      ['Python', '3.12.2', 'x64', PY],
      ['node', '20.11.1', 'x64', `${ROOT}/node/20.11.1/x64`]
    ])
    expect(plan.toolchains[0]?.pathEntries).toEqual([`${PY}/bin`, PY])
  })

  it('takes only the listed toolchain variables, and only where they point into the cache', () => {
    expect(plan.env).toEqual({
      JAVA_HOME: env.JAVA_HOME,
      JAVA_HOME_17_X64: env.JAVA_HOME_17_X64,
      GOROOT: env.GOROOT,
      pythonLocation: PY,
      Python_ROOT_DIR: PY,
      Python3_ROOT_DIR: PY,
      PKG_CONFIG_PATH: `${PY}/lib/pkgconfig`,
      VIRTUAL_ENV: `${WORKSPACE}/.venv`
    })
  })

  it('without a tool cache, keeps only what lies in the workspace', () => {
    const none = planToolCache(undefined, STEP_PATH, env, WORKSPACE)
    expect(none.pathEntries).toEqual([`${WORKSPACE}/.venv/bin`])
    expect(none.env).toEqual({ VIRTUAL_ENV: `${WORKSPACE}/.venv` })
    expect(none.toolchains).toEqual([])
  })

  it("puts the entries first on the container's PATH, the image's PATH after them", () => {
    expect(containerPath(plan, IMAGE_PATH)).toBe(
      [`${PY}/bin`, PY, NODE_BIN, `${WORKSPACE}/.venv/bin`, IMAGE_PATH].join(':')
    )
    expect(containerPath(plan, undefined)).toBe(containerPath(plan, IMAGE_PATH))
    expect(toolchainEnv(plan, IMAGE_PATH)).toMatchObject({
      PATH: containerPath(plan, IMAGE_PATH),
      GOROOT: env.GOROOT
    })
  })
})

describe('where a host path may be mounted', () => {
  it('refuses mount points on, above or inside the sandbox’s own and system paths', () => {
    expect(unusableMountTarget('/opt/hostedtoolcache', '/home/agent')).toBeUndefined()
    expect(unusableMountTarget('/home/runner/work/_tool', '/home/agent')).toBeUndefined()
    expect(unusableMountTarget('/tmp/runner/tool-cache', '/home/agent')).toBeUndefined()
    for (const target of [
      '/',
      '/opt',
      '/usr/local/tools',
      '/workspace/x',
      '/home/agent/t',
      '/run',
      '/tmp'
    ])
      expect(unusableMountTarget(target, '/home/agent')).toBeDefined()
    expect(unusableMountTarget('/home', '/home/agent')).toBeDefined()
  })

  it('mounts the repository at its host path too, unless that path is taken', () => {
    expect(workspaceAlias(WORKSPACE, '/home/agent')).toBe(WORKSPACE)
    expect(workspaceAlias('/tmp/e2e-repo-1', '/home/agent')).toBe('/tmp/e2e-repo-1')
    expect(workspaceAlias('/workspace', '/home/agent')).toBeUndefined()
    expect(workspaceAlias('/usr/src/app', '/home/agent')).toBeUndefined()
    expect(workspaceAlias('/tmp', '/home/agent')).toBeUndefined()
    expect(workspaceAlias('/home/agent/app', '/home/agent')).toBeUndefined()
    expect(workspaceAlias(`${ROOT}/app`, '/home/agent', ROOT)).toBeUndefined()
  })

  it('mounts a tool cache only when it exposes nothing but itself', () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'tool-cache-root-'))
    const cache = path.join(base, 'hostedtoolcache')
    const work = path.join(base, 'work', 'app')
    mkdirSync(cache, { recursive: true })
    mkdirSync(work, { recursive: true })
    const home = '/home/agent'
    expect(toolCacheRoot({ toolCache: cache, hostPrivate: [work], home })).toEqual({ root: cache })
    expect(toolCacheRoot({ toolCache: undefined, hostPrivate: [], home })).toBeUndefined()
    expect(toolCacheRoot({ toolCache: 'relative/dir', hostPrivate: [], home })).toBeUndefined()
    expect(
      toolCacheRoot({ toolCache: path.join(base, 'absent'), hostPrivate: [], home })
    ).toBeUndefined()
    // An ancestor of the workspace (or of $HOME, $RUNNER_TEMP …) would expose it read-only.
    expect(toolCacheRoot({ toolCache: base, hostPrivate: [work], home })).toEqual({
      skipped: expect.stringContaining(work)
    })
    // A link to such a directory is judged by where it leads.
    const link = path.join(os.tmpdir(), `tool-cache-link-${process.pid}`)
    symlinkSync(base, link)
    expect(toolCacheRoot({ toolCache: link, hostPrivate: [work], home })).toEqual({
      skipped: expect.stringContaining('must stay out')
    })
    expect(toolCacheRoot({ toolCache: '/usr', hostPrivate: [], home })).toEqual({
      skipped: expect.stringContaining('/usr')
    })
  })
})

describe('probing the tools once in the image', () => {
  /** A tool cache of tiny stand-ins: a node that answers, a python built for another libc. */
  function fakeCache(): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tool-cache-probe-'))
    const nodeBin = path.join(root, 'node', '20.11.1', 'x64', 'bin')
    const pyBin = path.join(root, 'Python', '3.12.2', 'x64', 'bin')
    mkdirSync(nodeBin, { recursive: true })
    mkdirSync(pyBin, { recursive: true })
    writeFileSync(path.join(nodeBin, 'node'), '#!/bin/sh\necho "v20.11.1 $1"\n')
    // What the kernel says for a binary whose interpreter (ld-musl, a newer ld.so) is missing.
    writeFileSync(path.join(pyBin, 'python3'), '#!/lib/ld-musl-x86_64.so.1\n')
    chmodSync(path.join(nodeBin, 'node'), 0o755)
    chmodSync(path.join(pyBin, 'python3'), 0o755)
    writeFileSync(path.join(root, 'unknown-tool.txt'), '')
    return root
  }

  it('runs each known tool’s version command and reports which cannot run', () => {
    const root = fakeCache()
    const stepPath = [
      `${root}/node/20.11.1/x64/bin`,
      `${root}/Python/3.12.2/x64/bin`,
      `${root}/mystery/1.0/x64/bin`
    ].join(':')
    const plan = planToolCache(root, stepPath, { pythonLocation: `${root}/Python/3.12.2/x64` })
    const stdout = execFileSync('/bin/sh', ['-c', probeScript(plan.toolchains)], {
      encoding: 'utf8'
    })
    const results = parseProbeOutput(stdout, plan.toolchains)
    expect(results.map(r => [r.toolchain.tool, r.exitCode])).toEqual([
      ['node', 0],
      ['Python', 127]
    ])
    expect(results[0]?.output.trim()).toBe('v20.11.1 --version')
    const broken = results.filter(r => r.exitCode !== 0)
    expect(probeFailure(broken[0]!)).toMatch(/cannot be executed here/)

    const warning = brokenToolsWarning(broken)
    expect(warning).toMatch(/^Tools from the runner's tool cache cannot run in the sandbox image/)
    expect(warning).toContain('Python 3.12.2')
    expect(warning).not.toContain('node 20.11.1')
    expect(warning).toContain('`base-image`')
    expect(warning).toContain('runner-tool-cache: false')

    const kept = withoutToolchains(
      plan,
      broken.map(r => r.toolchain)
    )
    expect(kept.pathEntries).toEqual([
      `${root}/node/20.11.1/x64/bin`,
      `${root}/mystery/1.0/x64/bin`
    ])
    expect(kept.env).toEqual({})
    expect(kept.toolchains.map(t => t.tool)).toEqual(['node', 'mystery'])
  })

  it('lists what else the cache holds (with setup-*’s .complete marker), not what is on PATH', () => {
    const root = fakeCache()
    writeFileSync(path.join(root, 'node', '20.11.1', 'x64.complete'), '')
    mkdirSync(path.join(root, 'node', '18.20.4', 'x64', 'bin'), { recursive: true })
    writeFileSync(path.join(root, 'node', '18.20.4', 'x64.complete'), '')
    // Half-installed (no marker): not listed.
    mkdirSync(path.join(root, 'go', '1.22.1', 'x64'), { recursive: true })
    const used = planToolCache(root, `${root}/node/20.11.1/x64/bin`, {}).toolchains
    expect(availableToolchains(root, used).map(t => [t.tool, t.version, t.pathEntries[0]])).toEqual(
      [['node', '18.20.4', `${root}/node/18.20.4/x64/bin`]]
    )
  })

  it('ignores lines that are not its own', () => {
    const plan = planToolCache(ROOT, NODE_BIN, {})
    expect(
      parseProbeOutput('TOOLPROBE 7 0 eA==\nnoise\nTOOLPROBE 0 1 \n', plan.toolchains)
    ).toEqual([{ toolchain: plan.toolchains[0], exitCode: 1, output: '' }])
  })

  it('hands the check to the container and drops what it reports failing', async () => {
    const root = fakeCache()
    const workspace = mkdtempSync(path.join(os.tmpdir(), 'tool-cache-ws-'))
    const nodeBin = `${root}/node/20.11.1/x64/bin`
    const setup = await prepareToolchain({
      enabled: true,
      workspace,
      image: 'claude-sandbox-test/no-such-image:0',
      home: '/home/agent',
      hostPrivate: [],
      env: {
        RUNNER_TOOL_CACHE: root,
        PATH: `${nodeBin}:${root}/Python/3.12.2/x64/bin:/usr/bin:/bin`,
        pythonLocation: `${root}/Python/3.12.2/x64`
      },
      log: {
        info: () => undefined,
        warning: message => {
          throw new Error(message)
        }
      }
    })
    expect(setup.env.PATH).toMatch(new RegExp(`^${nodeBin}:${root}/Python/3.12.2/x64/bin:`))
    expect(setup.probe).toContain(`${root}/Python/3.12.2/x64/bin/python3`)

    // What the entrypoint prints on stderr before it exits with TOOL_PROBE_EXIT.
    const stdout = execFileSync('/bin/sh', ['-c', setup.probe ?? 'exit 1'], { encoding: 'utf8' })
    const failed = failedProbes(stdout.split('\n').filter(isProbeLine), setup.toolchains)
    expect(failed.map(probe => [probe.toolchain.tool, probe.exitCode])).toEqual([['Python', 127]])

    const next = setup.without(failed.map(probe => probe.toolchain))
    expect(next.env.PATH).toMatch(new RegExp(`^${nodeBin}:/usr/local/sbin:`))
    expect(next.env.PATH).not.toContain('Python')
    expect(next.env.pythonLocation).toBeUndefined()
    expect(next.toolchains.map(t => t.tool)).toEqual(['node'])
    expect(next.probe).toContain(`${nodeBin}/node`)
    expect(next.probe).not.toContain('python3')
    expect(next.toolCache).toBe(root)
    // Nothing left to check: no script, so the entrypoint starts the CLI at once.
    expect(next.without(next.toolchains).probe).toBeUndefined()
  })
})
