import { describe, it, expect } from '@jest/globals'
import { claudeArgs, sandboxNotes } from '../../src/agent/claude-args.js'
import type { TaskSettings } from '../../src/settings.js'

const PROMPT = 'UNIQUE-PROMPT-TEXT: fix the flaky test in src/a.ts'

function task(extra: Partial<TaskSettings> = {}): TaskSettings {
  return {
    prompt: PROMPT,
    allowedTools: [],
    disallowedTools: [],
    claudeArgs: [],
    claudeCodeVersion: '2.1.330',
    timeoutMs: 60_000,
    ...extra
  }
}

const PREFIX = [
  'claude',
  '-p',
  '--output-format',
  'stream-json',
  '--verbose',
  '--dangerously-skip-permissions'
]

function valueAfter(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag)
  return at === -1 ? undefined : args[at + 1]
}

describe('claudeArgs', () => {
  it('is the fixed prefix and the system prompt notes when nothing else is set', () => {
    expect(claudeArgs(task(), 'restricted')).toEqual([
      ...PREFIX,
      '--append-system-prompt',
      sandboxNotes('restricted'),
      // The gateway refuses server-side web search in restricted mode unless it is allowed.
      '--disallowedTools',
      'WebSearch'
    ])
  })

  it('adds --model and --max-turns only when set', () => {
    const args = claudeArgs(task({ model: 'claude-sonnet-4-5', maxTurns: 12 }), 'open')
    expect(args.slice(0, PREFIX.length)).toEqual(PREFIX)
    expect(valueAfter(args, '--model')).toBe('claude-sonnet-4-5')
    expect(valueAfter(args, '--max-turns')).toBe('12')
    const plain = claudeArgs(task(), 'open')
    expect(plain).not.toContain('--model')
    expect(plain).not.toContain('--max-turns')
  })

  it("tells the agent about the sandbox first, then appends the user's system prompt", () => {
    const system =
      valueAfter(
        claudeArgs(task({ appendSystemPrompt: 'Always run npm test.' }), 'restricted'),
        '--append-system-prompt'
      ) ?? ''
    expect(system).toMatch(/\.git directory is read-only/)
    expect(system).toMatch(/collected from the working tree/)
    expect(system).toMatch(/HTTP\(S\) proxy/)
    expect(system.endsWith('\n\nAlways run npm test.')).toBe(true)
    expect(system.startsWith(sandboxNotes('restricted'))).toBe(true)
  })

  it('describes the network the run actually has', () => {
    expect(sandboxNotes('open')).toContain('The network is open.')
    expect(sandboxNotes('open')).not.toContain('proxy')
  })

  it('gives each tool rule its own word, spaces included', () => {
    const args = claudeArgs(
      task({ allowedTools: ['Read', 'Bash(git diff:*)'], disallowedTools: ['WebFetch'] }),
      'restricted'
    )
    const allowed = args.indexOf('--allowedTools')
    expect(args.slice(allowed, allowed + 3)).toEqual(['--allowedTools', 'Read', 'Bash(git diff:*)'])
    const disallowed = args.indexOf('--disallowedTools')
    expect(args.slice(disallowed, disallowed + 3)).toEqual([
      '--disallowedTools',
      'WebFetch',
      'WebSearch'
    ])
    expect(claudeArgs(task(), 'restricted')).not.toContain('--allowedTools')
    expect(claudeArgs(task(), 'open')).not.toContain('--disallowedTools')
  })

  it('appends claude-args last', () => {
    const args = claudeArgs(
      task({ allowedTools: ['Read'], model: 'm', claudeArgs: ['--add-dir', '/tmp/x'] }),
      'restricted'
    )
    expect(args.slice(-2)).toEqual(['--add-dir', '/tmp/x'])
  })

  it('never puts the prompt in the arguments', () => {
    const args = claudeArgs(
      task({ model: 'm', maxTurns: 3, appendSystemPrompt: 'extra', allowedTools: ['Read'] }),
      'restricted'
    )
    expect(args.some(arg => arg.includes('UNIQUE-PROMPT-TEXT'))).toBe(false)
  })
})

describe('sandboxNotes with the run’s context', () => {
  const notes = sandboxNotes({
    network: 'restricted',
    allowedDomains: [],
    protectedPaths: ['.github/**', '.gitmodules'],
    toolchains: [
      { tool: 'node', version: '20.11.1', binDir: '/opt/hostedtoolcache/node/20.11.1/x64/bin' },
      { tool: 'Python', version: '3.12.2', binDir: '/opt/hostedtoolcache/Python/3.12.2/x64/bin' }
    ],
    workspaceAlias: '/home/runner/work/app/app'
  })

  it('names each toolchain with its version and where it is', () => {
    expect(notes).toContain(
      'Toolchains the job set up (first on PATH): node 20.11.1 (/opt/hostedtoolcache/node/20.11.1/x64/bin), Python 3.12.2 (/opt/hostedtoolcache/Python/3.12.2/x64/bin).'
    )
    expect(notes).toContain('also mounted at /home/runner/work/app/app')
    const more = sandboxNotes({
      network: 'open',
      availableToolchains: [
        { tool: 'go', version: '1.22.1', binDir: '/opt/hostedtoolcache/go/1.22.1/x64/bin' }
      ]
    })
    expect(more).toMatch(
      /Also installed in the runner's tool cache, not on PATH .*: go 1\.22\.1 \(\/opt\/hostedtoolcache\/go\/1\.22\.1\/x64\/bin\)\./
    )
    expect(notes).not.toContain('Also installed')
  })

  it('says registries cannot be reached and how the workflow opens them', () => {
    expect(notes).toMatch(/allows no hosts: package registries cannot be reached/)
    expect(notes).toMatch(/`npm install`, `pip install`/)
    expect(notes).toMatch(/node_modules, \.venv, vendor\//)
    expect(notes).toContain('`allowed-domains`')
    const open = sandboxNotes({
      network: 'restricted',
      allowedDomains: ['registry.example.com', '*.pythonhosted.example.com']
    })
    expect(open).toContain('`registry.example.com`, `*.pythonhosted.example.com`')
    expect(open).not.toContain('allows no hosts')
    expect(sandboxNotes({ network: 'open', allowedDomains: [] })).not.toMatch(/allowed-domains/)
  })

  it('lists the protected paths, so the agent leaves them alone', () => {
    expect(notes).toContain('`.github/**`, `.gitmodules`')
    expect(notes).toMatch(/refuses to publish any of your work/)
    const many = sandboxNotes({
      network: 'open',
      protectedPaths: Array.from({ length: 25 }, (_, i) => `p${i}/**`)
    })
    expect(many).toContain('`p19/**` and 5 more')
    expect(many).not.toContain('p20/**')
  })

  it('says nothing about toolchains or protected paths it was not given', () => {
    const plain = sandboxNotes('restricted')
    expect(plain).not.toMatch(/Toolchains|protected|also mounted/)
    expect(claudeArgs(task(), { network: 'restricted' })).toEqual(claudeArgs(task(), 'restricted'))
  })
})

describe('web search', () => {
  const disallowed = (args: string[]): string[] => {
    const at = args.indexOf('--disallowedTools')
    return at === -1 ? [] : args.slice(at + 1).filter((_, i, rest) => !rest[i]?.startsWith('--'))
  }
  it('is taken from the model in restricted mode unless allowed-tools lists it', () => {
    expect(disallowed(claudeArgs(task(), 'restricted'))).toContain('WebSearch')
    expect(disallowed(claudeArgs(task({ allowedTools: ['WebSearch'] }), 'restricted'))).toEqual([])
    expect(disallowed(claudeArgs(task(), 'open'))).toEqual([])
  })
})
