/**
 * Issue 14 through dist/: the real agent in the sandbox edits a pull request's checkout, and
 * `publish: review` posts one review of suggested changes to a local GitHub that validates every
 * body against GitHub's OpenAPI description and every review comment's lines against the pull
 * request's diff (answering 422 as GitHub does when a line is outside it).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FakeGitHub, WRITE_ALL, type ReviewCommentRecord } from '../servers/fake-github.js'
import { git, makeRepo, runScenario } from '../helpers/e2e.js'
import type { Turn } from '../servers/fake-anthropic.js'

const REPO = 'octo-org/review-repo'
const TOKEN = 'ghs_e2e_review_token'

let fake: FakeGitHub
const dirs: string[] = []

beforeAll(async () => {
  fake = await FakeGitHub.start()
})
afterAll(async () => {
  await fake.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
afterEach(() => {
  expect(fake.validationFailures).toEqual([])
})

const lines = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}`)
const text = (list: string[]): string => list.map(l => `${l}\n`).join('')

// main: two 40-line files. The pull request changes lines 10-14 of calc.py and line 5 of util.py.
const CALC_BASE = lines('calc', 40)
const CALC_HEAD = CALC_BASE.map((l, i) => (i >= 9 && i <= 13 ? `pr ${l}` : l))
const UTIL_BASE = lines('util', 40)
const UTIL_HEAD = UTIL_BASE.map((l, i) => (i === 4 ? `pr ${l}` : l))

// The agent: in calc.py replaces head lines 11-12 by one line (a multi-line suggestion),
// deletes line 13, and adds a line after line 14 — all inside the PR's hunk (head lines 7-17);
// in util.py edits line 30, far outside the PR's diff; and adds a new file.
const CALC_AGENT = [
  ...CALC_HEAD.slice(0, 10),
  'agent\tmerged 11+12',
  ...CALC_HEAD.slice(13, 14),
  'agent added after 14',
  ...CALC_HEAD.slice(14)
]
const UTIL_AGENT = UTIL_HEAD.map((l, i) => (i === 29 ? 'agent util 30' : l))
const NOTES = '# Notes\n\nFrom the agent.\n'

function b64(content: string): string {
  return Buffer.from(content).toString('base64')
}

const agentTurns: Turn[] = [
  {
    tools: [
      {
        name: 'Bash',
        input: {
          command: [
            `echo ${b64(text(CALC_AGENT))} | base64 -d > /workspace/src/calc.txt`,
            `echo ${b64(text(UTIL_AGENT))} | base64 -d > /workspace/src/util.txt`,
            `echo ${b64(NOTES)} | base64 -d > /workspace/NOTES.md`
          ].join(' && '),
          description: 'edit'
        }
      }
    ]
  },
  { text: 'Tidied calc.txt.' }
]

/** main and a feature branch (the pull request), checked out at the feature branch. */
async function pullRequestRepository(name: string): Promise<{
  dir: string
  number: number
  payload: Record<string, unknown>
}> {
  const dir = makeRepo({ 'src/calc.txt': text(CALC_BASE), 'src/util.txt': text(UTIL_BASE) })
  dirs.push(dir)
  git(dir, 'checkout', '-q', '-b', 'feature')
  execFileSync(
    'sh',
    [
      '-c',
      `printf '%s' "$1" > src/calc.txt && printf '%s' "$2" > src/util.txt`,
      'sh',
      text(CALC_HEAD),
      text(UTIL_HEAD)
    ],
    { cwd: dir }
  )
  git(dir, 'commit', '-q', '-am', 'feature work')
  fake.addRepo(name, { defaultBranch: 'main' })
  fake.addToken(TOKEN, WRITE_ALL)
  await fake.seedFromGit(name, dir, { main: 'main', feature: 'feature' })
  const pr = fake.addPullRequest(name, { headRef: 'feature' })
  return { dir, number: pr.number, payload: fake.pullRequestEvent(name, pr.number) }
}

function env(name: string): Record<string, string> {
  return {
    GITHUB_REPOSITORY: name,
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: fake.serverUrl,
    GITHUB_WORKFLOW: 'Review',
    GITHUB_JOB: 'claude'
  }
}

/** A suggestion comment's replacement lines, read back from its ```suggestion fence. */
function replacementOf(comment: ReviewCommentRecord): string[] {
  const m = /^(`{3,})suggestion\n([\s\S]*?)\n?\1$/.exec(comment.body)
  if (!m) throw new Error(`not a suggestion: ${comment.body}`)
  return m[2] === '' ? [] : (m[2] as string).split('\n')
}

/** Applies review comments to a file's head content as GitHub's batch does (all against head). */
function applyComments(head: string, comments: ReviewCommentRecord[]): string {
  const out = head.slice(0, -1).split('\n')
  for (const c of [...comments].sort((a, b) => b.line - a.line)) {
    const start = c.startLine ?? c.line
    out.splice(start - 1, c.line - start + 1, ...replacementOf(c))
  }
  return `${out.join('\n')}\n`
}

/** The file as the agent's patch makes it: the patch applied to a fresh copy of the head. */
function patchResult(dir: string, patchPath: string, file: string): string {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'review-apply-'))
  dirs.push(copy)
  execFileSync('git', ['clone', '-q', '--branch', 'feature', dir, copy])
  execFileSync('git', ['apply', '--binary', patchPath], { cwd: copy })
  return readFileSync(path.join(copy, file), 'utf8')
}

const ACTIVE = '<!-- claude-sandbox-review:Review:claude -->'

describe('publish: review through dist/', () => {
  it('posts one review whose suggestions reproduce the change; the rest is in its body; a rerun leaves one active review', async () => {
    const name = `${REPO}-1`
    const { dir, number, payload } = await pullRequestRepository(name)
    const event = { name: 'pull_request', payload }
    const inputs = { publish: 'review', 'github-token': TOKEN }
    const first = await runScenario(agentTurns, { repo: dir, inputs, env: env(name), event })
    expect(first.run.errors).toEqual([])
    expect(first.run.exitCode).toBe(0)

    const reviews = fake.reviews(name, number)
    expect(reviews).toHaveLength(1)
    const review = reviews[0]!
    expect(review.state).toBe('COMMENTED')
    expect(review.body.startsWith(ACTIVE)).toBe(true)
    const comments = fake.reviewComments(name, number, review.id)
    expect(comments.every(c => c.path === 'src/calc.txt' && c.side === 'RIGHT')).toBe(true)
    expect(comments.some(c => c.startLine !== undefined && c.startLine < c.line)).toBe(true)

    // Applied to the head's file, the suggestions give exactly what the agent's patch gives.
    const patchPath = first.run.outputs['patch-path'] ?? ''
    const expected = patchResult(dir, patchPath, 'src/calc.txt')
    expect(expected).toBe(text(CALC_AGENT))
    expect(applyComments(text(CALC_HEAD), comments)).toBe(expected)

    // What could not be a suggestion is in the body as diffs.
    expect(review.body).toContain('util.txt')
    expect(review.body).toContain('+agent util 30')
    expect(review.body).toContain('NOTES.md')
    expect(review.body).toContain('+From the agent.')
    expect(review.body).not.toContain('+agent added after 14')

    // The rerun starts from a clean checkout, as a new job would.
    execFileSync('git', ['checkout', '-q', '--', '.'], { cwd: dir })
    execFileSync('git', ['clean', '-qfd'], { cwd: dir })
    const second = await runScenario(agentTurns, { repo: dir, inputs, env: env(name), event })
    expect(second.run.errors).toEqual([])
    const all = fake.reviews(name, number)
    expect(all).toHaveLength(2)
    const active = all.filter(r => r.body.startsWith(ACTIVE))
    expect(active).toHaveLength(1)
    expect(active[0]?.id).not.toBe(review.id)
    expect(fake.reviewComments(name, number, review.id)).toEqual([])
    expect(fake.reviewComments(name, number)).toHaveLength(comments.length)
    expect(fake.reviews(name, number).find(r => r.id === review.id)?.body).toContain(
      'replaced by a newer run'
    )
  })

  it('outside a pull request: one clear error, and nothing published', async () => {
    const name = `${REPO}-2`
    const dir = makeRepo({ 'src/calc.txt': text(CALC_BASE) })
    dirs.push(dir)
    fake.addRepo(name, { defaultBranch: 'main' })
    fake.addToken(TOKEN, WRITE_ALL)
    await fake.seedFromGit(name, dir, { main: 'main' })
    const before = fake.requests.length
    const { run, api } = await runScenario(agentTurns, {
      repo: dir,
      inputs: { publish: 'review', 'github-token': TOKEN },
      env: env(name),
      event: { name: 'schedule', payload: { schedule: '0 3 * * 1' } }
    })
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain('publish: review needs a pull request')
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /)
    // Refused before the agent ran: no model request was spent, nothing reached GitHub.
    expect(api.requests).toEqual([])
    expect(fake.requests.slice(before)).toEqual([])
  })
})
