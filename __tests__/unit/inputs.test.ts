import { MODEL_PRICES } from '../../src/api-door/pricing.js'
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_CLAUDE_CODE_VERSION } from '../../src/constants.js'
import { ConfigurationError } from '../../src/errors.js'
import { DEFAULT_PROTECTED_PATHS } from '../../src/git/path-policy.js'
import {
  getSettings,
  parseKeyValueLines,
  requireCredentials,
  requirePrompt,
  splitClaudeArgs,
  splitList,
  splitWords
} from '../../src/inputs.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..')
const testCa = path.join(repoRoot, '__tests__', 'fixtures', 'test-ca.pem')

let workspace: string
let outside: string

beforeAll(() => {
  workspace = mkdtempSync(path.join(os.tmpdir(), 'unit-inputs-ws-'))
  outside = mkdtempSync(path.join(os.tmpdir(), 'unit-inputs-out-'))
  copyFileSync(testCa, path.join(workspace, 'ca.pem'))
  copyFileSync(testCa, path.join(outside, 'ca.pem'))
  writeFileSync(path.join(workspace, 'not-pem.txt'), 'just some text\n')
  writeFileSync(path.join(workspace, 'Dockerfile.custom'), 'FROM scratch\n')
  symlinkSync(path.join(outside, 'ca.pem'), path.join(workspace, 'linked-ca.pem'))
  symlinkSync(outside, path.join(workspace, 'linked-dir'))
})

afterAll(() => {
  rmSync(workspace, { recursive: true, force: true })
  rmSync(outside, { recursive: true, force: true })
})

/** getSettings over a map of inputs, with the temp dir as GITHUB_WORKSPACE. */
function settings(inputs: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}) {
  return getSettings(name => inputs[name] ?? '', { GITHUB_WORKSPACE: workspace, ...env })
}

/** The ConfigurationError `run` throws (fails the test when it throws nothing or another kind). */
function configurationError(run: () => unknown): ConfigurationError {
  try {
    run()
  } catch (error: unknown) {
    if (error instanceof ConfigurationError) return error
    throw error
  }
  throw new Error('expected a ConfigurationError, nothing was thrown')
}

describe('getSettings defaults', () => {
  it('applies the documented defaults when no input is set', () => {
    const s = settings({ prompt: 'Fix it' })
    expect(s.task).toEqual({
      prompt: 'Fix it',
      promptFile: undefined,
      model: undefined,
      maxTurns: undefined,
      allowedTools: [],
      disallowedTools: [],
      appendSystemPrompt: undefined,
      claudeArgs: [],
      claudeCodeVersion: DEFAULT_CLAUDE_CODE_VERSION,
      timeoutMs: 1_800_000
    })
    expect(s.credentials).toEqual({
      apiKey: undefined,
      oauthToken: undefined,
      baseUrl: 'https://api.anthropic.com',
      provider: 'anthropic',
      customHeaders: {}
    })
    expect(s.sandbox).toEqual({
      network: 'restricted',
      allowedDomains: '',
      env: {},
      memory: '4g',
      cpus: '2',
      pidsLimit: 1024,
      workspace,
      maxBudgetUsd: undefined,
      modelPrices: MODEL_PRICES,
      minFreeDisk: { text: '1g', bytes: 1024 ** 3 },
      runnerToolCache: true
    })
    expect(s.image).toEqual({
      image: undefined,
      dockerfile: path.join(repoRoot, 'docker', 'Dockerfile.agent'),
      bundledDockerfile: true,
      buildArgs: {},
      extraPackages: [],
      caCertificates: undefined,
      cache: true,
      prebuiltImage: 'auto'
    })
    expect(s.publish.mode).toBe('auto')
    expect(s.publish.prDraft).toBe(false)
    expect(s.publish.protectedPaths).toEqual([...DEFAULT_PROTECTED_PATHS])
    expect(s.publish.maxFileBytes).toBe(50 * 1024 * 1024)
    expect(s.trigger).toEqual({ triggerPhrase: '@claude', labelTrigger: undefined })
  })

  it('reads given values', () => {
    const s = settings({
      'max-turns': '7',
      'timeout-minutes': '0.5',
      memory: '512m',
      cpus: '1.5',
      'pids-limit': '256',
      network: 'open',
      publish: 'pull-request',
      cache: 'false',
      'runner-tool-cache': 'false',
      'pr-draft': 'yes',
      'allowed-tools': 'Read, Bash(git diff:*)\nEdit',
      'extra-packages': 'make gcc,\nlibssl-dev',
      'protected-paths': 'src/secret/**\n.github/**',
      'claude-code-version': '2.1.300-beta.1',
      'anthropic-base-url': 'http://litellm.internal:4000'
    })
    expect(s.task.maxTurns).toBe(7)
    expect(s.task.timeoutMs).toBe(30_000)
    expect(s.task.allowedTools).toEqual(['Read', 'Bash(git diff:*)', 'Edit'])
    expect(s.task.claudeCodeVersion).toBe('2.1.300-beta.1')
    expect(s.sandbox).toMatchObject({
      memory: '512m',
      cpus: '1.5',
      pidsLimit: 256,
      network: 'open',
      runnerToolCache: false
    })
    expect(s.publish).toMatchObject({ mode: 'pull-request', prDraft: true })
    expect(s.publish.protectedPaths).toEqual(['src/secret/**', '.github/**'])
    expect(s.image.cache).toBe(false)
    expect(s.image.extraPackages).toEqual(['make', 'gcc', 'libssl-dev'])
    expect(s.credentials.baseUrl).toBe('http://litellm.internal:4000')
  })

  it('reads the spend cap and price overrides', () => {
    const s = settings({
      'max-budget-usd': '$2.50',
      'model-prices':
        '{"my-litellm-model": {"input": 1, "output": 2}, "*": {"input": 9, "output": 9}}'
    })
    expect(s.sandbox.maxBudgetUsd).toBe(2.5)
    expect(s.sandbox.modelPrices['my-litellm-model']).toMatchObject({
      input: 1,
      output: 2,
      cacheRead: 0.1
    })
    expect(s.sandbox.modelPrices['*']).toMatchObject({ input: 9, output: 9 })
    expect(s.sandbox.modelPrices['claude-sonnet-4-5']).toEqual(MODEL_PRICES['claude-sonnet-4-5'])
  })

  it.each([
    ['512m', { text: '512m', bytes: 512 * 1024 ** 2 }],
    ['1.5g', { text: '1.5g', bytes: 1.5 * 1024 ** 3 }],
    ['2GiB', { text: '2GiB', bytes: 2 * 1024 ** 3 }],
    ['5%', { text: '5%', percent: 5 }],
    ['0', { text: '0', bytes: 0 }]
  ])('reads min-free-disk %s', (value, floor) => {
    expect(settings({ 'min-free-disk': value }).sandbox.minFreeDisk).toEqual(floor)
  })
})

describe('getSettings refuses bad inputs', () => {
  it('refuses prompt together with prompt-file', () => {
    const error = configurationError(() => settings({ prompt: 'x', 'prompt-file': 'task.md' }))
    expect(error.message).toBe('Both `prompt` and `prompt-file` are set')
  })

  it.each([
    ['50m', 50 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['100MiB', 100 * 1024 ** 2],
    ['200 MB', 200 * 1024 ** 2],
    ['1048576', 1048576]
  ])('reads max-file-size %s', (value, bytes) => {
    expect(settings({ 'max-file-size': value }).publish.maxFileBytes).toBe(bytes)
  })

  it.each(['0', 'big', '-5m', '5t', '1e9'])('refuses max-file-size %s', value => {
    expect(configurationError(() => settings({ 'max-file-size': value })).message).toBe(
      `Input \`max-file-size\` must be a size such as 50m, 1g or 512k, got "${value}"`
    )
  })

  it('adds protected-paths made only of ! entries to the defaults', () => {
    expect(
      settings({ 'protected-paths': '!.github/dependabot.yml' }).publish.protectedPaths
    ).toEqual([...DEFAULT_PROTECTED_PATHS, '!.github/dependabot.yml'])
  })

  it.each(['0', '-1', '1.5', 'abc'])('refuses max-turns %s', value => {
    expect(configurationError(() => settings({ 'max-turns': value })).message).toBe(
      `Input \`max-turns\` must be a positive whole number, got "${value}"`
    )
  })

  it.each(['0', '-2', 'abc', '1e400'])('refuses max-budget-usd %s', value => {
    const error = configurationError(() => settings({ 'max-budget-usd': value }))
    expect(error.message).toBe(
      `Input \`max-budget-usd\` must be an amount in USD above 0, such as 5 or 0.50, got "${value}"`
    )
    expect(error.remedy).toBe('Leave it empty for no cap')
  })

  it.each([
    ['{', /^Input `model-prices` is not JSON/],
    ['[1]', /^Input `model-prices` must be a JSON object$/],
    ['{"m": 3}', /^Input `model-prices`: "m" must map to an object$/],
    ['{"m": {"input": 3}}', /^Input `model-prices`: "m" needs both "input" and "output"$/],
    ['{"m": {"input": 3, "output": -1}}', /"m"\.output must be a number ≥ 0$/],
    ['{"m": {"input": 3, "output": 15, "cahce_read": 1}}', /unknown field "cahce_read" for "m"$/]
  ])('refuses model-prices %s', (value, message) => {
    expect(configurationError(() => settings({ 'model-prices': value })).message).toMatch(message)
  })

  it.each(['0', 'abc'])('refuses timeout-minutes %s', value => {
    expect(configurationError(() => settings({ 'timeout-minutes': value })).message).toBe(
      `Input \`timeout-minutes\` must be a positive number, got "${value}"`
    )
  })

  it.each([
    [{ memory: 'lots' }, 'Input `memory` must be a docker size such as 4g or 512m, got "lots"'],
    [{ cpus: '0' }, 'Input `cpus` must be a positive number, got "0"'],
    [
      { 'min-free-disk': 'plenty' },
      'Input `min-free-disk` must be a size such as 1g or 512m, a share of the disk such as 5%, or 0 to turn the disk guard off, got "plenty"'
    ],
    [
      { 'min-free-disk': '100%' },
      'Input `min-free-disk` must be a size such as 1g or 512m, a share of the disk such as 5%, or 0 to turn the disk guard off, got "100%"'
    ],
    [{ network: 'closed' }, 'Input `network` must be one of restricted, open, got "closed"'],
    [
      { publish: 'email' },
      'Input `publish` must be one of auto, comment, commit, pull-request, review, patch, got "email"'
    ],
    [{ cache: 'maybe' }, 'Input `cache` must be true or false, got "maybe"'],
    [
      { 'runner-tool-cache': 'mounted' },
      'Input `runner-tool-cache` must be true or false, got "mounted"'
    ],
    [{ 'pr-draft': 'sometimes' }, 'Input `pr-draft` must be true or false, got "sometimes"'],
    [
      { 'claude-code-version': 'latest' },
      `Input \`claude-code-version\` must be an exact version such as ${DEFAULT_CLAUDE_CODE_VERSION}, got "latest"`
    ],
    [
      { 'claude-code-version': '^2.1.0' },
      `Input \`claude-code-version\` must be an exact version such as ${DEFAULT_CLAUDE_CODE_VERSION}, got "^2.1.0"`
    ],
    [
      { 'claude-code-version': '2.1.231' },
      'claude-code-version 2.1.231 is older than the supported range (2.1.232 to 2.1.332)'
    ],
    [
      { 'claude-code-version': '2.1.333' },
      'claude-code-version 2.1.333 is newer than the supported range (2.1.232 to 2.1.332): the API door has not been checked against its requests'
    ],
    [
      { 'anthropic-base-url': 'ftp://x' },
      'Input `anthropic-base-url` must be an http(s) URL, got "ftp://x"'
    ]
  ])('refuses %j', (inputs, message) => {
    expect(configurationError(() => settings(inputs)).message).toBe(message)
  })

  it('reads the artifact inputs: on by default, a name and retention when given', () => {
    expect(settings({}).artifact).toEqual({ enabled: true })
    expect(
      settings({
        artifact: 'false',
        'artifact-name': 'claude-${{ matrix.os }}-linux',
        'artifact-retention-days': '14'
      }).artifact
    ).toEqual({ enabled: false, name: 'claude-${{ matrix.os }}-linux', retentionDays: 14 })
  })

  it.each([
    [{ artifact: 'maybe' }, 'Input `artifact` must be true or false, got "maybe"'],
    [
      { 'artifact-retention-days': '0' },
      'Input `artifact-retention-days` must be a positive whole number, got "0"'
    ],
    [
      { 'artifact-retention-days': '91' },
      'Input `artifact-retention-days` must be between 1 and 90, got 91'
    ],
    [
      { 'artifact-name': 'results/linux' },
      'Input `artifact-name` contains a character the artifact service refuses ("results/linux")'
    ]
  ])('refuses the artifact input %j', (inputs, message) => {
    const error = configurationError(() => settings(inputs))
    expect(error.message).toBe(message)
  })

  it('refuses a dockerfile that does not exist, unless a prebuilt image is given', () => {
    const error = configurationError(() => settings({ dockerfile: 'nope/Dockerfile' }))
    expect(error.message).toBe(
      `Input \`dockerfile\` names ${path.join(workspace, 'nope', 'Dockerfile')}, which does not exist`
    )
    expect(settings({ dockerfile: 'Dockerfile.custom' }).image).toMatchObject({
      dockerfile: path.join(workspace, 'Dockerfile.custom'),
      bundledDockerfile: false
    })
    expect(settings({ dockerfile: 'nope/Dockerfile', image: 'org/agent:1' }).image.image).toBe(
      'org/agent:1'
    )
  })

  it('names the malformed build-args line', () => {
    const error = configurationError(() =>
      settings({ 'build-args': 'BASE_IMAGE=debian:12\n\nnot a pair\n' })
    )
    expect(error.message).toBe('Input `build-args` line 3 is not KEY=VALUE: "not a pair"')
  })

  it('refuses an invalid allowed-domains entry', () => {
    const error = configurationError(() => settings({ 'allowed-domains': 'example.com, *.com' }))
    expect(error.message).toMatch(/^Invalid allowed-domains entry: '\*\.com' \(/)
    expect(
      settings({ 'allowed-domains': 'example.com\n*.example.org' }).sandbox.allowedDomains
    ).toBe('example.com\n*.example.org')
  })
})

describe('the env input', () => {
  it('takes KEY=VALUE lines and copies bare keys from the runner, skipping missing ones', () => {
    const s = settings(
      { env: 'FOO=bar=baz\n# a comment\n\nFROM_RUNNER\nNOT_ON_RUNNER\n' },
      { FROM_RUNNER: 'runner value' }
    )
    expect(s.sandbox.env).toEqual({ FOO: 'bar=baz', FROM_RUNNER: 'runner value' })
  })

  it.each([
    'ANTHROPIC_API_KEY=sk-mine',
    'HTTP_PROXY=http://elsewhere:3128',
    'HOME',
    // These would also reach the docker client that starts the container.
    'DOCKER_HOST=tcp://elsewhere:2375',
    'PATH=/tmp/evil'
  ])('refuses the reserved %s', line => {
    const key = line.split('=')[0] ?? ''
    const error = configurationError(() => settings({ env: line }, { HOME: '/root' }))
    expect(error.message).toBe(
      `Input \`env\` may not set ${key}: the sandbox sets it to keep credentials out and traffic on the gateway`
    )
  })

  it('refuses a line that is not KEY=VALUE or KEY', () => {
    const error = configurationError(() => settings({ env: 'OK=1\nbad key=1' }))
    expect(error.message).toBe('Input `env` line 2 is not KEY=VALUE or KEY: "bad key=1"')
  })
})

describe('the ca-certificates input', () => {
  it('accepts a PEM bundle inside or outside the workspace', () => {
    expect(settings({ 'ca-certificates': 'ca.pem' }).image.caCertificates).toBe(
      path.join(workspace, 'ca.pem')
    )
    const elsewhere = path.join(outside, 'ca.pem')
    expect(settings({ 'ca-certificates': elsewhere }).image.caCertificates).toBe(elsewhere)
  })

  it('refuses a missing file', () => {
    expect(configurationError(() => settings({ 'ca-certificates': 'missing.pem' })).message).toBe(
      `Input \`ca-certificates\` names ${path.join(workspace, 'missing.pem')}, which does not exist`
    )
  })

  it('refuses a file that is not PEM', () => {
    expect(configurationError(() => settings({ 'ca-certificates': 'not-pem.txt' })).message).toBe(
      `Input \`ca-certificates\` names ${path.join(workspace, 'not-pem.txt')}, which is not a PEM file (no -----BEGIN CERTIFICATE----- block)`
    )
  })

  it('refuses a bundle reached through a linked directory inside the workspace', () => {
    const error = configurationError(() => settings({ 'ca-certificates': 'linked-dir/ca.pem' }))
    expect(error.message).toContain('a symbolic link inside the repository')
  })

  it('refuses a symbolic link inside the workspace, even to a valid bundle', () => {
    expect(configurationError(() => settings({ 'ca-certificates': 'linked-ca.pem' })).message).toBe(
      `Input \`ca-certificates\` names ${path.join(workspace, 'linked-ca.pem')}, a symbolic link inside the repository`
    )
  })
})

describe('splitClaudeArgs', () => {
  it('honours quotes and keeps variables literal', () => {
    expect(splitClaudeArgs(`--foo "a b" 'c d'`)).toEqual(['--foo', 'a b', 'c d'])
    expect(splitClaudeArgs('--dir $HOME "$HOME/x"')).toEqual(['--dir', '$HOME', '$HOME/x'])
    expect(splitClaudeArgs('--glob *.ts')).toEqual(['--glob', '*.ts'])
    expect(splitClaudeArgs('  ')).toEqual([])
  })

  it('ends at a # comment', () => {
    expect(splitClaudeArgs('--a b # --c d')).toEqual(['--a', 'b'])
  })

  it.each([';', '|', '&&', '>'])('refuses the shell operator %s', op => {
    const error = configurationError(() => splitClaudeArgs(`--a b ${op} rm -rf x`))
    expect(error.message).toBe(
      `Input \`claude-args\` contains the shell operator "${op}"; it is split into words, never run by a shell`
    )
  })

  it('keeps a quoted operator as a word', () => {
    expect(splitClaudeArgs(`--x ';' "a|b"`)).toEqual(['--x', ';', 'a|b'])
  })
})

describe('list helpers', () => {
  it('splitList splits on commas and newlines and trims, but keeps inner spaces', () => {
    expect(splitList(' Read ,Bash(git diff:*)\n\n, Edit \n')).toEqual([
      'Read',
      'Bash(git diff:*)',
      'Edit'
    ])
    expect(splitList('')).toEqual([])
  })

  it('splitWords splits on any whitespace and commas', () => {
    expect(splitWords(' make\tgcc,libssl-dev\n  jq ')).toEqual(['make', 'gcc', 'libssl-dev', 'jq'])
    expect(splitWords('')).toEqual([])
  })

  it('parseKeyValueLines keeps = inside values and skips blanks and comments', () => {
    expect(parseKeyValueLines('A=1\n# c\n\n B = x=y \nEMPTY=', 'build-args')).toEqual({
      A: '1',
      B: ' x=y',
      EMPTY: ''
    })
    expect(configurationError(() => parseKeyValueLines('=v', 'build-args')).message).toBe(
      'Input `build-args` line 1 is not KEY=VALUE: "=v"'
    )
  })
})

describe('requirePrompt and requireCredentials', () => {
  it('needs a prompt unless the event brings the task', () => {
    expect(configurationError(() => requirePrompt('  \n', false)).message).toBe(
      'No task: neither `prompt` nor `prompt-file` is set'
    )
    expect(() => requirePrompt('', true)).not.toThrow()
    expect(() => requirePrompt('Fix it', false)).not.toThrow()
  })

  it('needs an API key or an OAuth token, and mentions forks on pull_request', () => {
    const none = settings()
    const plain = configurationError(() => requireCredentials(none, { GITHUB_EVENT_NAME: 'push' }))
    expect(plain.message).toBe(
      'No credentials: `anthropic-api-key` and `claude-code-oauth-token` are both empty'
    )
    const fork = configurationError(() =>
      requireCredentials(none, { GITHUB_EVENT_NAME: 'pull_request' })
    )
    expect(fork.message).toContain('(pull requests from forks get no secrets)')
    expect(() => requireCredentials(settings({ 'anthropic-api-key': ' sk-x ' }), {})).not.toThrow()
    expect(() => requireCredentials(settings({ 'claude-code-oauth-token': 'o' }), {})).not.toThrow()
  })
})

describe('the base-image input', () => {
  it('takes an image reference or devcontainer, and is absent by default', () => {
    expect(settings().image.baseImage).toBeUndefined()
    expect(settings({ 'base-image': ' node:22-bookworm ' }).image.baseImage).toBe(
      'node:22-bookworm'
    )
    expect(settings({ 'base-image': 'devcontainer' }).image.baseImage).toBe('devcontainer')
    const pinned = `ghcr.io/acme/dev@sha256:${'a'.repeat(64)}`
    expect(settings({ 'base-image': pinned }).image.baseImage).toBe(pinned)
  })

  it('may repeat build-args BASE_IMAGE, which means the same', () => {
    const image = settings({ 'base-image': 'node:22', 'build-args': 'BASE_IMAGE=node:22' }).image
    expect(image.baseImage).toBe('node:22')
  })

  it.each([
    [
      { 'base-image': 'node:22', image: 'ghcr.io/acme/agent:1' },
      /`image` and `base-image` were both given/
    ],
    [{ 'base-image': 'node:22', 'build-args': 'BASE_IMAGE=debian:13' }, /disagree/],
    [
      { 'base-image': 'node 22' },
      /must be an image reference such as node:22-bookworm, or `devcontainer`/
    ]
  ])('refuses %o', (inputs, pattern) => {
    expect(configurationError(() => settings(inputs)).message).toMatch(pattern)
  })
})

describe('the prebuilt-image input', () => {
  it('is auto by default, takes never, and refuses anything else naming the input', () => {
    expect(settings().image.prebuiltImage).toBe('auto')
    expect(settings({ 'prebuilt-image': 'never' }).image.prebuiltImage).toBe('never')
    expect(() => settings({ 'prebuilt-image': 'always' })).toThrow(
      /Input `prebuilt-image` must be one of auto, never, got "always"/
    )
  })
})
