/**
 * Issue 10, items 2 and 3, through dist/ with the real CLI in the real container and the network
 * restricted: the agent layer built on a project image (a Debian image with its own Node.js and
 * an existing uid-1000 user, as the official node images have), named by `base-image` and by
 * `base-image: devcontainer`; and bad bases ending with one clear error and nothing left.
 * No registry here, so the project images are built locally from the local Debian bases.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Turn } from '../servers/fake-anthropic.js'
import {
  LOCAL_BASE_IMAGE,
  LOCAL_BUILDER_IMAGE,
  baseInputs,
  docker,
  leftoverContainers,
  makeRepo,
  runScenario
} from '../helpers/e2e.js'
import { runAction } from '../helpers/run-action.js'

const nonce = randomBytes(4).toString('hex')
/** A project image: Node.js from Debian, a `node` user with uid 1000, a tool on its own PATH. */
const PROJECT_IMAGE = `claude-sandbox-e2e/node-project:${nonce}`
/** A base without apt-get or dpkg, standing in for Alpine and other distributions. */
const FOREIGN_IMAGE = `claude-sandbox-e2e/no-apt:${nonce}`
/** Only the builder: BASE_IMAGE would be a second answer to what base-image says. */
const BUILD_ARGS = `BUILDER_IMAGE=${LOCAL_BUILDER_IMAGE}`

function buildLocal(tag: string, dockerfile: string): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-base-image-'))
  try {
    writeFileSync(path.join(dir, 'Dockerfile'), dockerfile)
    execFileSync('docker', ['build', '-q', '-t', tag, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: 'pipe'
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A Node project whose test fails until sum() adds; a dependency present only in node_modules. */
const PROJECT_FILES: Record<string, string> = {
  '.gitignore': 'node_modules/\n',
  'package.json': JSON.stringify(
    { name: 'sample', version: '1.0.0', private: true, scripts: { test: 'node --test' } },
    null,
    2
  ),
  'src/sum.js':
    'const { twice } = require("tiny-twice")\nexports.sum = (a, b) => a - b\nexports.double = twice\n',
  'test/sum.test.js':
    'const test = require("node:test")\nconst assert = require("node:assert")\nconst { sum, double } = require("../src/sum.js")\ntest("sum", () => assert.strictEqual(sum(2, 3), 5))\ntest("double", () => assert.strictEqual(double(4), 8))\n'
}
const FIXED_SUM =
  'const { twice } = require("tiny-twice")\nexports.sum = (a, b) => a + b\nexports.double = twice\n'

function nodeProject(extra: Record<string, string> = {}): string {
  const repo = makeRepo({ ...PROJECT_FILES, ...extra }, 'e2e-node-project-')
  // Installed on the host, never committed: the sandbox must use it offline.
  const dep = path.join(repo, 'node_modules', 'tiny-twice')
  execFileSync('mkdir', ['-p', dep])
  writeFileSync(
    path.join(dep, 'package.json'),
    '{"name":"tiny-twice","version":"1.0.0","main":"index.js"}'
  )
  writeFileSync(path.join(dep, 'index.js'), 'exports.twice = n => n * 2\n')
  return repo
}

const RUN_TESTS = 'npm test 2>&1 | tail -n 15; echo "TESTS_EXIT=${PIPESTATUS[0]}"'
const turns: Turn[] = [
  {
    tools: [
      {
        name: 'Bash',
        input: {
          command: `echo "WHO=$(id -un):$(id -u) NODE=$(command -v node) TOOL=$(project-tool)"; ${RUN_TESTS}`
        }
      }
    ]
  },
  { tools: [{ name: 'Write', input: { file_path: '/workspace/src/sum.js', content: FIXED_SUM } }] },
  { tools: [{ name: 'Bash', input: { command: RUN_TESTS } }] },
  { text: 'Fixed sum(); the tests pass.' }
]

/** The text of every tool result the CLI sent back to the model, in order. */
function toolResults(body: unknown): string[] {
  const messages = (body as { messages?: Array<{ content?: unknown }> }).messages ?? []
  const texts: string[] = []
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue
    for (const block of message.content as Array<Record<string, unknown>>) {
      if (block.type !== 'tool_result') continue
      const content = block.content
      texts.push(
        typeof content === 'string'
          ? content
          : Array.isArray(content)
            ? content.map(part => String((part as { text?: unknown }).text ?? '')).join('')
            : ''
      )
    }
  }
  return texts
}

async function expectFixedInside(inputs: Record<string, string>, repo: string): Promise<void> {
  const { run, api } = await runScenario(turns, {
    repo,
    inputs: { 'build-args': BUILD_ARGS, network: 'restricted', ...inputs }
  })
  expect(run.errors).toEqual([])
  expect(run.outputs.conclusion).toBe('success')
  const main = api.mainRequests()
  const results = toolResults(main.at(-1)?.body)
  expect(results).toHaveLength(3)
  // The project image's own user (uid 1000, `node`) and Node.js, and its PATH kept (layered).
  expect(results[0]).toMatch(/WHO=node:1000 NODE=\/usr\/bin\/node TOOL=project-tool-ok/)
  expect(results[0]).toMatch(/TESTS_EXIT=1/)
  expect(results[0]).toMatch(/# fail 1/)
  expect(results[2]).toMatch(/TESTS_EXIT=0/)
  expect(results[2]).toMatch(/# pass 2/)
  const patch = execFileSync('cat', [run.outputs['patch-path'] ?? '/dev/null'], {
    encoding: 'utf8'
  })
  expect(patch).toContain('+exports.sum = (a, b) => a + b')
  expect(patch).not.toContain('node_modules')
  expect(run.outputs['changed-files']).toBe('1')
  expect(leftoverContainers()).toEqual([])
}

beforeAll(() => {
  buildLocal(
    PROJECT_IMAGE,
    [
      `FROM ${LOCAL_BUILDER_IMAGE}`,
      'RUN groupadd --gid 1000 node && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash node \\',
      ' && mkdir -p /opt/project/bin \\',
      " && printf '#!/bin/sh\\necho project-tool-ok\\n' > /opt/project/bin/project-tool \\",
      ' && chmod 755 /opt/project/bin/project-tool',
      'ENV PATH=/opt/project/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'USER node',
      'CMD ["node"]'
    ].join('\n')
  )
  buildLocal(
    FOREIGN_IMAGE,
    `FROM ${LOCAL_BASE_IMAGE}\nRUN rm -f /usr/bin/apt-get /usr/bin/apt /usr/bin/dpkg\n`
  )
})

afterAll(() => {
  // The agent images built on them first (they hold the bases' layers), then the bases.
  const agents = docker(
    'images',
    '--filter',
    `label=org.claude-sandbox-action.cli-mount`,
    '--format',
    '{{.Repository}}:{{.Tag}} {{.ID}}'
  ).stdout
  const projectId = docker('image', 'inspect', '--format', '{{.Id}}', PROJECT_IMAGE).stdout.trim()
  for (const line of agents.split('\n').filter(Boolean)) {
    const [ref] = line.split(' ')
    const history = docker('history', '-q', '--no-trunc', ref ?? '').stdout
    if (projectId && history.includes(projectId) && ref) docker('rmi', ref)
  }
  docker('rmi', PROJECT_IMAGE)
  docker('rmi', FOREIGN_IMAGE)
})

describe('base-image', () => {
  it('builds the agent layer on a project image with its own Node.js and uid-1000 user; the agent runs the failing tests, fixes them, reruns them', async () => {
    const repo = nodeProject()
    try {
      await expectFixedInside({ 'base-image': PROJECT_IMAGE }, repo)
    } finally {
      rmSync(repo, { recursive: true, force: true })
    }
  })

  it('base-image: devcontainer uses the image of a devcontainer.json with comments and a trailing comma', async () => {
    const repo = nodeProject({
      '.devcontainer/devcontainer.json': [
        "// The project's dev container",
        '{',
        '  /* the image the team develops in */',
        `  "image": "${PROJECT_IMAGE}",`,
        '  "customizations": { "vscode": { "extensions": ["dbaeumer.vscode-eslint",], }, },',
        '}',
        ''
      ].join('\n')
    })
    try {
      await expectFixedInside({ 'base-image': 'devcontainer' }, repo)
    } finally {
      rmSync(repo, { recursive: true, force: true })
    }
  })
})

describe('bad base images: one clear ::error:: line, nothing left running', () => {
  let repo: string
  beforeAll(() => {
    repo = makeRepo({
      '.devcontainer/devcontainer.json': '{\n  // no image\n  "name": "x",\n}\n'
    })
  })
  afterAll(() => rmSync(repo, { recursive: true, force: true }))

  async function expectOneError(inputs: Record<string, string>, pattern: RegExp): Promise<void> {
    const run = await runAction({
      inputs: baseInputs({
        prompt: 'Do it.',
        'anthropic-base-url': 'http://127.0.0.1:9',
        'build-args': BUILD_ARGS,
        ...inputs
      }),
      workspace: repo
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(pattern)
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/)
    // Nothing of this run is left: no sandbox container (by its run label), no CLI builder.
    const runId = run.state.runId ?? 'none'
    const mine = docker(
      'ps',
      '-a',
      '--filter',
      `label=org.claude-sandbox-action.run=${runId}`,
      '--format',
      '{{.Names}}'
    ).stdout.trim()
    expect(mine).toBe('')
    const fetchers = docker(
      'ps',
      '-a',
      '--filter',
      'name=claude-sandbox-cli-fetch-',
      '--format',
      '{{.Names}}'
    )
    expect(fetchers.stdout.trim()).toBe('')
  }

  it('a base image that is not here and cannot be pulled', async () => {
    // A registry on a closed loopback port: the pull fails without leaving the machine.
    await expectOneError(
      { 'base-image': '127.0.0.1:9/nobody/missing:1' },
      /base image 127\.0\.0\.1:9\/nobody\/missing:1 \(`base-image`\) is not on this runner and could not be pulled.*Check the image name/
    )
  })

  it('a base image that is not Debian or Ubuntu', async () => {
    await expectOneError(
      { 'base-image': FOREIGN_IMAGE },
      /base image .*no-apt.* is not supported: no apt-get\/dpkg.*Debian or Ubuntu/
    )
  })

  it('a devcontainer.json without an image', async () => {
    await expectOneError(
      { 'base-image': 'devcontainer' },
      /devcontainer\.json \(in the checked-out commit\) has no `image`.*Supported: a devcontainer\.json whose `image`/
    )
  })
})
