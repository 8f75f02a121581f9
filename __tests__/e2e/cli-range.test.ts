/**
 * Issue 22, part 1, through dist/ with the real CLI in the real container: every CLI version in
 * the supported range works through the API door. At both ends of the range a scripted session
 * that uses the CLI's everyday tools (TodoWrite, Glob, Grep, Read, Edit, Write, Bash) completes
 * with nothing refused; a version below the range is refused before anything is fetched; and
 * when the door does refuse the CLI's own request, the step's error names the rule and the
 * remedy, not authentication.
 */
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { SUPPORTED_CLI_VERSIONS } from '../../src/agent/cli-versions.js'
import { leftoverContainers, runScenario } from '../helpers/e2e.js'
import { REPO_ROOT } from '../helpers/run-action.js'
import type { Turn } from '../servers/fake-anthropic.js'

const MULTI_TOOL = (
  JSON.parse(
    readFileSync(
      path.join(REPO_ROOT, '__tests__', 'fixtures', 'scenarios', 'multi-tool.json'),
      'utf8'
    )
  ) as { turns: Turn[] }
).turns

const ENDS: Array<[end: string, version: string]> = [
  ['oldest', SUPPORTED_CLI_VERSIONS.oldest],
  ['newest', SUPPORTED_CLI_VERSIONS.newest]
]

describe.each(ENDS)('the %s supported CLI (%s)', (_end, version) => {
  it('completes a multi-tool session through the door with nothing refused', async () => {
    const { run, post, api, repo } = await runScenario(MULTI_TOOL, {
      inputs: { 'claude-code-version': version }
    })
    expect(run.errors).toEqual([])
    expect(run.stdout).not.toContain('🚪')
    expect(run.summary).not.toContain('refused by the gateway')
    expect(run.outputs.conclusion).toBe('success')
    expect(run.outputs['final-message']).toBe('Fixed add() and noted it.')

    // Every scripted turn reached the model, from the version asked for.
    const main = api.mainRequests()
    expect(main).toHaveLength(MULTI_TOOL.length)
    expect(String(main[0]?.headers['user-agent'])).toContain(version)
    const offered = new Set(
      main.flatMap(request =>
        ((request.body as { tools?: Array<{ name?: string }> }).tools ?? []).map(t => t.name)
      )
    )
    // The tools that change files are offered by every version in the range.
    for (const tool of ['Read', 'Edit', 'Write', 'Bash'])
      expect([tool, offered.has(tool)]).toEqual([tool, true])

    // And they did their work in the container: Read then Edit, Write, Bash.
    expect(readFileSync(path.join(repo, 'src', 'app.py'), 'utf8')).toContain('return a + b')
    expect(readFileSync(path.join(repo, 'NOTES.md'), 'utf8')).toBe('add() fixed\n')
    expect(readFileSync(path.join(repo, 'bash.txt'), 'utf8').trim()).toBe('1')

    // Every call came back to the model as a tool result. A call failed only where the version
    // does not offer that tool (TodoWrite, Glob and Grep are gone from these versions' lists,
    // their work done by the task tools and Bash): the CLI answers with an error result, which
    // is one more request shape the door let through.
    const blocks = main.flatMap(request =>
      ((request.body as { messages?: Array<{ content?: unknown }> }).messages ?? []).flatMap(m =>
        Array.isArray(m.content)
          ? (m.content as Array<{
              type?: string
              id?: string
              name?: string
              tool_use_id?: string
              is_error?: boolean
            }>)
          : []
      )
    )
    const called = new Map(
      blocks.filter(b => b.type === 'tool_use').map(b => [b.id ?? '', b.name ?? ''])
    )
    const results = new Map(
      blocks.filter(b => b.type === 'tool_result').map(b => [b.tool_use_id ?? '', b])
    )
    for (const [id, name] of called) {
      const result = results.get(id)
      expect([name, result !== undefined]).toEqual([name, true])
      if (result?.is_error) expect([name, offered.has(name)]).toEqual([name, false])
    }
    expect([...called.values()].sort()).toEqual(
      ['Bash', 'Edit', 'Glob', 'Grep', 'Read', 'TodoWrite', 'Write'].sort()
    )
    expect(post.exitCode).toBe(0)
    expect(leftoverContainers()).toEqual([])
  }, 600_000)
})

describe('outside the range', () => {
  it('a version below it fails up front, naming the range, before anything runs', async () => {
    const started = Date.now()
    const { run, api } = await runScenario([{ text: 'never reached' }], {
      inputs: { 'claude-code-version': '2.1.200' }
    })
    expect(run.errors).toEqual([
      `::error::claude-code-version 2.1.200 is older than the supported range (${SUPPORTED_CLI_VERSIONS.oldest} to ${SUPPORTED_CLI_VERSIONS.newest}). Set \`claude-code-version\` to a version from ${SUPPORTED_CLI_VERSIONS.oldest} to ${SUPPORTED_CLI_VERSIONS.newest} (or leave it out for 2.1.330)`
    ])
    expect(run.exitCode).toBe(1)
    expect(api.requests).toEqual([])
    // Up front: no image, no CLI fetch, no container.
    expect(run.stdout).not.toContain('Claude Code in the sandbox')
    expect(Date.now() - started).toBeLessThan(30_000)
  }, 120_000)
})

describe('a refusal reads as a refusal', () => {
  it('the CLI’s own request refused: the error names the rule and the remedy, not authentication', async () => {
    // ANTHROPIC_BETAS makes the CLI itself send a flag of a refused family.
    const { run, api } = await runScenario([{ text: 'never reached' }], {
      inputs: { env: 'ANTHROPIC_BETAS=files-api-2025-04-14', publish: 'patch' }
    })
    expect(api.requests).toEqual([])
    expect(run.outputs.conclusion).toBe('failure')
    const error = run.errors.join('\n')
    expect(error).toContain(
      'The API door refused Claude Code’s request (rule `beta files-api-2025-04-14`'
    )
    expect(error).toContain('not a credential problem')
    expect(error).not.toMatch(/authenticat/i)
    expect(run.summary).toContain('API requests refused by the gateway')
    // The transcript is kept.
    expect(run.outputs['execution-file']).toBeTruthy()
  }, 300_000)
})
