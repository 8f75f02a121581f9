/**
 * Issue 10: the agent builds and tests the project with the job's own toolchain. Through dist/,
 * with the real CLI in the real container and the network restricted: Node and Python from a
 * tool cache laid out as actions/setup-node and setup-python lay it out, dependencies the job
 * installed on the host (node_modules, a virtualenv), the tests run inside, failing and then
 * passing; the tool cache read-only, absent when switched off, and a tool that cannot run in the
 * image dropped with one warning.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { leftoverContainers, makeRepo, runScenario } from '../helpers/e2e.js'
import type { Turn } from '../servers/fake-anthropic.js'

const E2E_DIR = path.join(os.tmpdir(), 'claude-sandbox-e2e')

function bash(command: string) {
  return { name: 'Bash', input: { command, description: 'step', timeout: 120000 } }
}

/** A directory and its parents readable by everyone (the container runs as another user). */
function mkdirReadable(dir: string): void {
  mkdirSync(dir, { recursive: true })
  for (let d = dir; d !== path.dirname(d) && d.startsWith(E2E_DIR); d = path.dirname(d))
    chmodSync(d, 0o755)
}

/**
 * A tool cache as setup-node lays it out: `<root>/node/<version>/x64/bin/node` and the marker
 * `<root>/node/<version>/x64.complete`. The node is the host's, which links only glibc and
 * libstdc++ (test-rig.md), so it runs in the Debian image as a hosted runner's would.
 */
function nodeToolCache(root: string): { version: string; bin: string } {
  const version = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim().slice(1)
  const bin = path.join(root, 'node', version, 'x64', 'bin')
  if (!existsSync(path.join(bin, 'node'))) {
    mkdirReadable(bin)
    copyFileSync('/usr/bin/node', path.join(bin, 'node'))
    chmodSync(path.join(bin, 'node'), 0o755)
  }
  writeFileSync(path.join(root, 'node', version, 'x64.complete'), '')
  return { version, bin }
}

/**
 * Python as setup-python lays it out: `<root>/Python/<version>/x64/{bin,lib}`. CPython finds its
 * standard library relative to its executable, so the host's interpreter and library copied
 * into that layout are a relocated Python like the tool cache's.
 */
function pythonToolCache(root: string): { version: string; home: string } {
  const version = execFileSync(
    '/usr/bin/python3',
    ['-c', 'import platform; print(platform.python_version())'],
    { encoding: 'utf8' }
  ).trim()
  const minor = version.split('.').slice(0, 2).join('.')
  const home = path.join(root, 'Python', version, 'x64')
  if (!existsSync(path.join(home, 'bin', 'python3'))) {
    mkdirReadable(path.join(home, 'bin'))
    copyFileSync(`/usr/bin/python${minor}`, path.join(home, 'bin', `python${minor}`))
    chmodSync(path.join(home, 'bin', `python${minor}`), 0o755)
    execFileSync('ln', ['-sf', `python${minor}`, path.join(home, 'bin', 'python3')])
    execFileSync('ln', ['-sf', 'python3', path.join(home, 'bin', 'python')])
    cpSync(`/usr/lib/python${minor}`, path.join(home, 'lib', `python${minor}`), {
      recursive: true,
      verbatimSymlinks: true
    })
    execFileSync('chmod', ['-R', 'a+rX', home])
  }
  writeFileSync(path.join(root, 'Python', version, 'x64.complete'), '')
  return { version, home }
}

/**
 * A tool built for another C library: a copy of a small host binary whose ELF interpreter is
 * musl's loader, which the Debian image does not have (what a runner's Alpine- or newer-glibc
 * build looks like to the kernel: "required file not found").
 */
function foreignTool(root: string): string {
  const bin = path.join(root, 'go', '1.22.1', 'x64', 'bin')
  mkdirReadable(bin)
  const elf = readFileSync('/bin/true')
  const glibc = Buffer.from('/lib64/ld-linux-x86-64.so.2\0')
  const musl = Buffer.alloc(glibc.length)
  musl.write('/lib/ld-musl-x86_64.so.1')
  const at = elf.indexOf(glibc)
  if (at < 0) throw new Error('no glibc interpreter in /bin/true')
  musl.copy(elf, at)
  writeFileSync(path.join(bin, 'go'), elf, { mode: 0o755 })
  writeFileSync(path.join(root, 'go', '1.22.1', 'x64.complete'), '')
  return bin
}

/**
 * This run's containers still there (the agent's and the probe's): none. Only this run's, as
 * other suites share the Docker daemon.
 */
function leftoversOf(run: { state: Record<string, string> }): string[] {
  const runId = run.state.runId ?? ''
  expect(runId).not.toBe('')
  return leftoverContainers().filter(name => name.endsWith(runId))
}

/** The Bash results the CLI sent back to the model, in order (from the transcript). */
function bashResults(executionFile: string): string[] {
  const results: string[] = []
  for (const line of readFileSync(executionFile, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const message = JSON.parse(line) as {
      type?: string
      message?: { content?: Array<{ type?: string; content?: unknown }> }
    }
    if (message.type !== 'user') continue
    for (const block of message.message?.content ?? []) {
      if (block.type !== 'tool_result') continue
      const content = block.content
      results.push(
        typeof content === 'string'
          ? content
          : Array.isArray(content)
            ? content.map(part => (part as { text?: string }).text ?? '').join('')
            : ''
      )
    }
  }
  return results
}

/** The system prompt the CLI sent (the sandbox's notes are appended to it). */
function systemPrompt(body: unknown): string {
  const system = (body as { system?: unknown }).system
  if (typeof system === 'string') return system
  return Array.isArray(system)
    ? system.map(part => (part as { text?: string }).text ?? '').join('\n')
    : ''
}

const NODE_PROJECT = {
  'package.json': JSON.stringify(
    { name: 'calc', version: '1.0.0', scripts: { test: 'node --test test/' } },
    null,
    2
  ),
  '.gitignore': 'node_modules/\n',
  'src/calc.js':
    "const { pad } = require('tiny-pad')\n\nexports.add = (a, b) => a - b\nexports.label = n => pad(String(exports.add(n, n)), 4)\n",
  'test/calc.test.js':
    "const test = require('node:test')\nconst assert = require('node:assert')\nconst { add, label } = require('../src/calc.js')\n\ntest('adds', () => assert.strictEqual(add(2, 3), 5))\ntest('labels', () => assert.strictEqual(label(2), '   4'))\n"
}

/** What `npm install` would have put there before the step: a dependency only on the host. */
function installNodeModules(repo: string): void {
  const dir = path.join(repo, 'node_modules', 'tiny-pad')
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'tiny-pad', version: '1.0.0', main: 'index.js' })
  )
  writeFileSync(
    path.join(dir, 'index.js'),
    "exports.pad = (s, n) => ' '.repeat(Math.max(0, n - s.length)) + s\n"
  )
}

const NODE_TURNS = (cache: string, nodeBin: string, repo: string): Turn[] => [
  {
    tools: [
      bash(
        'cd /workspace && command -v node && node --version && echo "PATH=$PATH" && ' +
          '(command -v go || echo "no go on PATH"); node --test test/ 2>&1; echo "tests exit=$?"'
      )
    ]
  },
  {
    tools: [
      {
        name: 'Edit',
        input: {
          file_path: '/workspace/src/calc.js',
          old_string: 'exports.add = (a, b) => a - b',
          new_string: 'exports.add = (a, b) => a + b'
        }
      }
    ]
  },
  { tools: [bash('cd /workspace && node --test test/ 2>&1; echo "tests exit=$?"')] },
  {
    tools: [
      bash(
        // The repository's second mount, at its host path, has its .git read-only too.
        `for t in ${cache}/pwned ${nodeBin}/node ${cache}/node/evil ${repo}/.git/config ${repo}/.git/hooks/pre-commit; do ` +
          'if (echo x >> "$t" || mkdir "$t") 2>/dev/null; then echo "WROTE $t"; else echo "FAILED $t"; fi; done'
      )
    ]
  },
  { text: 'Fixed add(); the tests pass.' }
]

describe('the job’s toolchain inside the sandbox', () => {
  it('runs a Node project’s failing tests with the tool cache’s node and host-installed node_modules, fixes them, and publishes only the fix', async () => {
    const cache = path.join(E2E_DIR, 'toolcache-node')
    const node = nodeToolCache(cache)
    const goBin = foreignTool(cache)
    const repo = makeRepo(NODE_PROJECT)
    installNodeModules(repo)

    const { run, api } = await runScenario(NODE_TURNS(cache, node.bin, repo), {
      repo,
      env: {
        RUNNER_TOOL_CACHE: cache,
        // setup-node and setup-go put their bin directories on the job's PATH.
        PATH: `${goBin}:${node.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`
      }
    })
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')

    const [first, , second, writes] = bashResults(run.outputs['execution-file'] ?? '')
    // node is the tool cache's, first on PATH; the image's own PATH follows.
    expect(first).toContain(`${node.bin}/node`)
    expect(first).toContain(`v${node.version}`)
    expect(first).toMatch(new RegExp(`PATH=${node.bin}:/usr/local/sbin:/usr/local/bin:`))
    // The tests ran and failed (the bug), then passed after the fix.
    expect(first).toMatch(/# fail [1-9]/)
    expect(first).toContain('tests exit=1')
    expect(second).toMatch(/# pass 2/)
    expect(second).toContain('tests exit=0')
    // The tool cache is read-only.
    expect(writes?.trim().split('\n')).toEqual([
      `FAILED ${cache}/pwned`,
      `FAILED ${node.bin}/node`,
      `FAILED ${cache}/node/evil`,
      `FAILED ${repo}/.git/config`,
      `FAILED ${repo}/.git/hooks/pre-commit`
    ])
    expect(readFileSync(path.join(repo, '.git', 'config'), 'utf8')).not.toMatch(/^x$/m)
    expect(existsSync(path.join(repo, '.git', 'hooks', 'pre-commit'))).toBe(false)

    // The go "built for another libc" cannot run in the image: one warning naming it and the
    // remedy, and it is left off the PATH.
    const warnings = run.stdout.split('\n').filter(line => line.startsWith('::warning::'))
    const toolWarnings = warnings.filter(line => line.includes("runner's tool cache"))
    expect(toolWarnings).toHaveLength(1)
    expect(toolWarnings[0]).toMatch(/go 1\.22\.1/)
    expect(toolWarnings[0]).toContain('`base-image`')
    expect(toolWarnings[0]).not.toMatch(/node /)
    expect(first).toContain('no go on PATH')

    // The agent was told which toolchain it has and that the network is closed.
    const notes = systemPrompt(api.mainRequests()[0]?.body)
    expect(notes).toContain(`node ${node.version} (${node.bin})`)
    expect(notes).not.toContain('go 1.22.1')
    expect(notes).toMatch(/The workflow allows no hosts: package registries cannot be reached/)
    expect(notes).toContain('`.github/workflows/**`')

    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).toContain('+exports.add = (a, b) => a + b')
    expect(patch).not.toContain('node_modules')
    expect(run.outputs['changed-files']).toBe('1')
    expect(leftoversOf(run)).toEqual([])
  })

  it('keeps a node_modules the project does not ignore out of the patch: the job made it, not the agent', async () => {
    const cache = path.join(E2E_DIR, 'toolcache-node')
    const node = nodeToolCache(cache)
    const repo = makeRepo({ ...NODE_PROJECT, '.gitignore': '' })
    installNodeModules(repo)
    const { run } = await runScenario(
      [
        {
          tools: [
            {
              name: 'Edit',
              input: {
                file_path: '/workspace/src/calc.js',
                old_string: 'a - b',
                new_string: 'a + b'
              }
            }
          ]
        },
        { tools: [bash('cd /workspace && node --test test/ 2>&1; echo "tests exit=$?"')] },
        { text: 'Fixed.' }
      ],
      { repo, env: { RUNNER_TOOL_CACHE: cache, PATH: `${node.bin}:${process.env.PATH ?? ''}` } }
    )
    expect(run.outputs.conclusion).toBe('success')
    expect(bashResults(run.outputs['execution-file'] ?? '')[1]).toContain('tests exit=0')
    // Untracked files from before the run that the agent did not touch are not its change.
    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).not.toContain('node_modules')
    expect(patch).toContain('+exports.add = (a, b) => a + b')
    expect(run.outputs['changed-files']).toBe('1')
    expect(run.stdout).toContain('untracked file(s) that were there before the agent ran')
  })

  it('runs pytest from a virtualenv the job made in the workspace with the tool cache’s Python', async () => {
    const cache = path.join(E2E_DIR, 'toolcache-python')
    const python = pythonToolCache(cache)
    const repo = makeRepo({
      '.gitignore': '.venv/\n__pycache__/\n.pytest_cache/\n',
      'tests/test_app.py':
        'import pathlib, sys\nsys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "src"))\nfrom app import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n'
    })
    // What `actions/setup-python` + `python -m venv .venv && .venv/bin/pip install pytest` leave.
    const venvPython = path.join(repo, '.venv', 'bin', 'python')
    execFileSync(path.join(python.home, 'bin', 'python3'), ['-m', 'venv', '.venv'], { cwd: repo })
    installPytest(venvPython)
    const pathEntries = `${python.home}/bin:${python.home}`
    const { run, api } = await runScenario(
      [
        {
          tools: [
            bash(
              'cd /workspace && head -1 .venv/bin/pytest && readlink -f .venv/bin/python && ' +
                '.venv/bin/pytest -q 2>&1 | tail -5; echo "pytest exit=${PIPESTATUS[0]}"'
            )
          ]
        },
        {
          tools: [
            {
              name: 'Edit',
              input: {
                file_path: '/workspace/src/app.py',
                old_string: 'return a - b',
                new_string: 'return a + b'
              }
            }
          ]
        },
        {
          tools: [
            bash(
              'cd /workspace && . .venv/bin/activate && command -v python && pytest -q 2>&1 | tail -3; echo "pytest exit=${PIPESTATUS[0]}"; echo "home=$pythonLocation"'
            )
          ]
        },
        { text: 'Fixed add().' }
      ],
      {
        repo,
        env: {
          RUNNER_TOOL_CACHE: cache,
          PATH: `${pathEntries}:${process.env.PATH ?? ''}`,
          pythonLocation: python.home,
          Python_ROOT_DIR: python.home,
          Python3_ROOT_DIR: python.home,
          PKG_CONFIG_PATH: `${python.home}/lib/pkgconfig`
        }
      }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const [first, , second] = bashResults(run.outputs['execution-file'] ?? '')
    // The venv's scripts name the host path of the workspace, and its python the tool cache's.
    expect(first).toContain(`#!${repo}/.venv/bin/python`)
    expect(first).toContain(`${python.home}/bin/python`)
    expect(first).toMatch(/1 failed/)
    expect(first).toContain('pytest exit=1')
    expect(second).toContain(`${repo}/.venv/bin/python`)
    expect(second).toMatch(/1 passed/)
    expect(second).toContain('pytest exit=0')
    expect(second).toContain(`home=${python.home}`)
    const notes = systemPrompt(api.mainRequests()[0]?.body)
    expect(notes).toContain(`Python ${python.version} (${python.home}/bin)`)
    expect(notes).toContain(`also mounted at ${repo}`)
    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).toContain('+    return a + b')
    expect(patch).not.toMatch(/\.venv|__pycache__/)
    expect(run.outputs['changed-files']).toBe('1')
    expect(leftoversOf(run)).toEqual([])
  })

  it('with runner-tool-cache: false the tool cache is not there inside', async () => {
    const cache = path.join(E2E_DIR, 'toolcache-node')
    const node = nodeToolCache(cache)
    const { run, api } = await runScenario(
      [
        {
          tools: [
            bash(
              `ls ${cache} 2>&1; echo "ls exit=$?"; command -v node || echo "no node"; echo "PATH=$PATH"`
            )
          ]
        },
        { text: 'Looked.' }
      ],
      {
        inputs: { 'runner-tool-cache': 'false' },
        env: { RUNNER_TOOL_CACHE: cache, PATH: `${node.bin}:${process.env.PATH ?? ''}` }
      }
    )
    expect(run.errors).toEqual([])
    const [result] = bashResults(run.outputs['execution-file'] ?? '')
    expect(result).toMatch(/No such file or directory/)
    expect(result).toContain('ls exit=2')
    expect(result).toContain('no node')
    expect(result).not.toContain(node.bin)
    expect(systemPrompt(api.mainRequests()[0]?.body)).not.toContain('Toolchains the job set up')
    expect(leftoversOf(run)).toEqual([])
  })
})

/**
 * pytest into the virtualenv from the registry's default index; where this machine cannot reach
 * it, from the package mirrors its pip configuration names (the same client, another index).
 */
function installPytest(venvPython: string): void {
  const pip = (...args: string[]) =>
    spawnSync(venvPython, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', ...args], {
      encoding: 'utf8',
      timeout: 180_000
    })
  const direct = pip('--retries', '0', '--timeout', '15', 'pytest')
  if (direct.status === 0) return
  const configured = spawnSync(venvPython, ['-m', 'pip', 'config', 'list'], { encoding: 'utf8' })
  const mirrors = [...configured.stdout.matchAll(/index-url='([^']+)'/g)]
    .flatMap(match => (match[1] ?? '').split(/\s+/))
    .filter(Boolean)
  const [first, ...rest] = mirrors
  if (!first) throw new Error(`pip could not install pytest: ${direct.stderr}`)
  const mirrored = pip(
    '--index-url',
    first,
    ...rest.flatMap(url => ['--extra-index-url', url]),
    'pytest'
  )
  if (mirrored.status !== 0) throw new Error(`pip could not install pytest: ${mirrored.stderr}`)
}
