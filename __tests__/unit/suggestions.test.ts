import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  applySuggestions,
  commentableRanges,
  parseHunks,
  planReview,
  suggestionBody,
  type PullRequestFile
} from '../../src/github/suggestions.js'

/**
 * The mapping of the agent's patch onto a pull request's diff, on diffs real git writes: a base,
 * the pull request's head (its diff against the base is what GitHub shows and accepts comments
 * on), and the agent's change on top of the head. Applying the planned suggestions to the head
 * must give exactly the agent's file.
 */

const roots: string[] = []
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true })
})

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com'
    }
  })
}

interface Scenario {
  /** path -> content; null: the file does not exist at that stage. */
  base: Record<string, string | null>
  head: Record<string, string | null>
  agent: Record<string, string | null>
}

interface Diffs {
  agentPatch: string
  prFiles: PullRequestFile[]
}

/** Commits base and head, writes the agent's files, and diffs as GitHub and the action do. */
function diffs(scenario: Scenario): Diffs {
  const dir = mkdtempSync(path.join(tmpdir(), 'suggestions-'))
  roots.push(dir)
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'config', 'core.autocrlf', 'false')
  const stage = (files: Record<string, string | null>, message: string): void => {
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(dir, file)
      if (content === null) rmSync(full, { force: true })
      else writeFileSync(full, content)
    }
    git(dir, 'add', '-A')
    git(dir, 'commit', '-q', '--allow-empty', '-m', message)
  }
  stage(scenario.base, 'base')
  stage(scenario.head, 'head')
  const prFiles: PullRequestFile[] = []
  const names = git(dir, 'diff', '--name-status', '-z', 'HEAD~1', 'HEAD').split('\0')
  for (let i = 0; i + 1 < names.length; i += 2) {
    const status = names[i] as string
    const filename = names[i + 1] as string
    const raw = git(dir, 'diff', 'HEAD~1', 'HEAD', '--', filename)
    const at = raw.indexOf('\n@@ ')
    prFiles.push({
      filename,
      status: status === 'A' ? 'added' : status === 'D' ? 'removed' : 'modified',
      ...(at >= 0 ? { patch: raw.slice(at + 1).replace(/\n$/, '') } : {})
    })
  }
  stage(scenario.agent, 'agent')
  const agentPatch = git(dir, 'diff', '--full-index', '--binary', 'HEAD~1', 'HEAD')
  return { agentPatch, prFiles }
}

function numbered(count: number, prefix = 'line'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}`)
}

const text = (lines: string[], eol = '\n'): string => lines.map(l => l + eol).join('')

/** Applies the plan's suggestions to the head content of `file`. */
function applied(scenario: Scenario, file: string, d: Diffs): string {
  const plan = planReview(d.agentPatch, d.prFiles)
  return applySuggestions(
    scenario.head[file] ?? scenario.base[file] ?? '',
    plan.suggestions.filter(s => s.path === file)
  )
}

describe('planReview on real diffs', () => {
  it('turns an edit among context lines inside the PR diff into one exact suggestion', () => {
    const base = numbered(40)
    const head = [...base]
    head[9] = 'pr line 10'
    head[10] = 'pr line 11'
    const agent = [...head]
    agent[10] = 'agent line 11'
    const s: Scenario = {
      base: { 'a.txt': text(base) },
      head: { 'a.txt': text(head) },
      agent: { 'a.txt': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([
      { path: 'a.txt', startLine: 11, line: 11, replacement: ['agent line 11'] }
    ])
    expect(plan.body).toEqual([])
    expect(applied(s, 'a.txt', d)).toBe(s.agent['a.txt'])
  })

  it('keeps CRLF line endings: the suggestion reproduces the file byte for byte', () => {
    const base = numbered(12)
    const head = [...base]
    head[5] = 'pr 6'
    const agent = [...head]
    agent.splice(4, 3, 'agent 5', 'agent 6', 'agent 6b', 'agent 7')
    const s: Scenario = {
      base: { 'win.txt': text(base, '\r\n') },
      head: { 'win.txt': text(head, '\r\n') },
      agent: { 'win.txt': text(agent, '\r\n') }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.body).toEqual([])
    expect(plan.suggestions).toHaveLength(1)
    expect(plan.suggestions[0]?.replacement[0]).toBe('agent 5\r')
    expect(applied(s, 'win.txt', d)).toBe(s.agent['win.txt'])
  })

  it('edits a last line that has no newline, and sends a change of the final newline to the body', () => {
    const base = 'one\ntwo\nthree'
    const head = 'one\ntwo\nTHREE'
    const s: Scenario = {
      base: { 'x.txt': base, 'y.txt': base },
      head: { 'x.txt': head, 'y.txt': head },
      agent: { 'x.txt': 'one\ntwo\nthree, by the agent', 'y.txt': 'one\ntwo\nTHREE\n' }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([
      { path: 'x.txt', startLine: 3, line: 3, replacement: ['three, by the agent'] }
    ])
    expect(applied(s, 'x.txt', d)).toBe(s.agent['x.txt'])
    expect(plan.body.map(b => [b.path, b.reasons])).toEqual([['y.txt', ['newline at end of file']]])
    expect(plan.body[0]?.diff).toContain('\\ No newline at end of file')
  })

  it('keeps tabs and indentation exactly', () => {
    const base = ['func main() {', '\tif x {', '\t\treturn 1', '\t}', '}']
    const head = [...base]
    head[2] = '\t\treturn 2'
    const agent = [...head]
    agent[2] = '\t\treturn  3\t// tabbed'
    const s: Scenario = {
      base: { 'm.go': text(base) },
      head: { 'm.go': text(head) },
      agent: { 'm.go': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions[0]?.replacement).toEqual(['\t\treturn  3\t// tabbed'])
    expect(applied(s, 'm.go', d)).toBe(s.agent['m.go'])
  })

  it('deletes lines with an empty suggestion spanning them (start_line < line)', () => {
    const base = numbered(20)
    const head = [...base]
    head.splice(8, 0, 'pr added 1', 'pr added 2', 'pr added 3')
    const agent = head.filter(l => l !== 'pr added 2' && l !== 'pr added 3')
    const s: Scenario = {
      base: { 'd.txt': text(base) },
      head: { 'd.txt': text(head) },
      agent: { 'd.txt': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([{ path: 'd.txt', startLine: 10, line: 11, replacement: [] }])
    expect(suggestionBody(plan.suggestions[0]!)).toBe('```suggestion\n```')
    expect(applied(s, 'd.txt', d)).toBe(s.agent['d.txt'])
  })

  it('appends after the last line of a hunk at the end of the file, anchored to that line', () => {
    const base = numbered(15)
    const head = [...base, 'pr tail 1', 'pr tail 2']
    const agent = [...head, 'agent tail 3', 'agent tail 4']
    const s: Scenario = {
      base: { 'e.txt': text(base) },
      head: { 'e.txt': text(head) },
      agent: { 'e.txt': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([
      {
        path: 'e.txt',
        startLine: 17,
        line: 17,
        replacement: ['pr tail 2', 'agent tail 3', 'agent tail 4']
      }
    ])
    expect(applied(s, 'e.txt', d)).toBe(s.agent['e.txt'])
  })

  it('anchors an insertion to the next line when only that one is in the diff', () => {
    const base = numbered(20)
    const head = [...base]
    head[9] = 'pr 10' // the PR's hunk covers head lines 7..13
    const agent = [...head]
    agent.splice(6, 0, 'inserted before line 7')
    const s: Scenario = {
      base: { 'n.txt': text(base) },
      head: { 'n.txt': text(head) },
      agent: { 'n.txt': text(agent) }
    }
    const d = diffs(s)
    expect(commentableRanges(d.prFiles[0]?.patch)).toEqual([[7, 13]])
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([
      { path: 'n.txt', startLine: 7, line: 7, replacement: ['inserted before line 7', 'line 7'] }
    ])
    expect(applied(s, 'n.txt', d)).toBe(s.agent['n.txt'])
  })

  it('merges two insertions around one line into one suggestion', () => {
    const base = numbered(20)
    const head = [...base]
    head[9] = 'pr 10'
    const agent = [...head]
    agent.splice(7, 0, 'after 7') // after head line 7 (8 is in the diff)
    agent.splice(9, 0, 'after 8') // after head line 8
    const s: Scenario = {
      base: { 'm.txt': text(base) },
      head: { 'm.txt': text(head) },
      agent: { 'm.txt': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(applied(s, 'm.txt', d)).toBe(s.agent['m.txt'])
    for (const [i, a] of plan.suggestions.entries()) {
      const b = plan.suggestions[i + 1]
      if (b) expect(a.line).toBeLessThan(b.startLine)
    }
  })

  it('sends hunks outside the PR diff, new, deleted, renamed and binary files to the body', () => {
    const base = numbered(60)
    const head = [...base]
    head[4] = 'pr 5'
    const agent = [...head]
    agent[3] = 'agent 4' // inside the PR's hunk (head lines 2..8)
    agent[49] = 'agent 50' // far outside it
    const s: Scenario = {
      base: { 'big.txt': text(base), 'gone.txt': 'bye\n', 'old-name.txt': text(numbered(8, 'r')) },
      head: { 'big.txt': text(head) },
      agent: {
        'big.txt': text(agent),
        'new.txt': 'brand new\n',
        'gone.txt': null,
        'old-name.txt': null,
        'new-name.txt': text(numbered(8, 'r')),
        'blob.bin': '\0\x01binary'
      }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([
      { path: 'big.txt', startLine: 4, line: 4, replacement: ['agent 4'] }
    ])
    const reasons = Object.fromEntries(plan.body.map(b => [b.path, b.reasons]))
    expect(reasons).toEqual({
      'big.txt': ['outside the pull request diff'],
      'new.txt': ['new file'],
      'gone.txt': ['deleted file'],
      'new-name.txt': ['renamed'],
      'blob.bin': ['new file', 'binary']
    })
    const big = plan.body.find(b => b.path === 'big.txt')?.diff ?? ''
    expect(big).toMatch(/^diff --git a\/big.txt b\/big.txt\n/)
    expect(big).toContain('+agent 50')
    expect(big).not.toContain('+agent 4')
  })

  it('sends a file the PR does not touch, and an insertion into an empty file, to the body', () => {
    const s: Scenario = {
      base: { 'other.txt': text(numbered(5)), 'empty.txt': 'x\n', 'pr.txt': 'a\n' },
      head: { 'empty.txt': '', 'pr.txt': 'b\n' },
      agent: { 'other.txt': text(['changed', ...numbered(5).slice(1)]), 'empty.txt': 'filled\n' }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles)
    expect(plan.suggestions).toEqual([])
    expect(Object.fromEntries(plan.body.map(b => [b.path, b.reasons]))).toEqual({
      'other.txt': ['not in the pull request'],
      'empty.txt': ['nothing to anchor to']
    })
  })

  it('sends a file to the body when the head holds another blob than the patch was made on', () => {
    const base = numbered(10)
    const head = base.map((l, i) => (i === 4 ? 'pr 5' : l))
    const agent = head.map((l, i) => (i === 5 ? 'agent 6' : l))
    const s: Scenario = {
      base: { 'b.txt': text(base) },
      head: { 'b.txt': text(head) },
      agent: { 'b.txt': text(agent) }
    }
    const d = diffs(s)
    const oldBlob = /^index ([0-9a-f]+)\.\./m.exec(d.agentPatch)?.[1] ?? ''
    const same = planReview(
      d.agentPatch,
      d.prFiles.map(f => ({ ...f, sha: oldBlob }))
    )
    expect(same.suggestions).toHaveLength(1)
    const other = planReview(
      d.agentPatch,
      d.prFiles.map(f => ({ ...f, sha: 'f'.repeat(40) }))
    )
    expect(other.suggestions).toEqual([])
    expect(other.body.map(b => b.reasons)).toEqual([['changed since the checkout']])
  })

  it('fences a suggestion whose content holds backticks so it cannot close early', () => {
    const body = suggestionBody({
      path: 'r.md',
      startLine: 1,
      line: 2,
      replacement: ['```js', '```']
    })
    expect(body).toBe('````suggestion\n```js\n```\n````')
  })

  it('caps the number of suggestions, moving later hunks to the body', () => {
    const base = numbered(200)
    const head = base.map((l, i) => (i % 20 === 5 ? `pr ${l}` : l))
    const agent = head.map((l, i) => (i % 20 === 5 ? `agent ${l}` : l))
    const s: Scenario = {
      base: { 'c.txt': text(base) },
      head: { 'c.txt': text(head) },
      agent: { 'c.txt': text(agent) }
    }
    const d = diffs(s)
    const plan = planReview(d.agentPatch, d.prFiles, { maxSuggestions: 3 })
    expect(plan.suggestions).toHaveLength(3)
    expect(plan.body[0]?.reasons).toEqual(['too many suggestions'])
    expect(parseHunks(plan.body[0]?.diff ?? '')).toHaveLength(7)
  })
})
