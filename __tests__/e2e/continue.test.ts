/**
 * Issue 24: follow-ups continue the conversation, through dist/ by the runner contract, with the
 * real CLI in the real container, the GitHub stand-in (requests checked against GitHub's OpenAPI
 * description) and the Actions cache stand-in driven by the real @actions/cache client.
 *
 * Between runs the machine is made a fresh runner: RUNNER_TEMP emptied (same path, as on GitHub),
 * the checkout reset to the pull request's head; only the cache service keeps its data.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { SECRET_API_KEY, makeRepo, runScenario, type ScenarioRun } from '../helpers/e2e.js'
import { REPO_ROOT } from '../helpers/run-action.js'
import type { RecordedRequest, Turn } from '../servers/fake-anthropic.js'
import {
  readFakeBlob,
  startFakeCacheService,
  type FakeCacheEntry,
  type FakeCacheService
} from '../servers/fake-cache.js'
import { FakeGitHub } from '../servers/fake-github.js'

const REPOSITORY = 'octo-org/hello-world'
const FORK = 'stranger/hello-world'
const GITHUB_TOKEN = 'ghs_e2eContinueJobToken0123456789abcdef'
const WRITER = 'octo-maintainer'

type Rec = Record<string, unknown>

function record(value: unknown): Rec {
  return typeof value === 'object' && value !== null ? (value as Rec) : {}
}

function fixture(name: string): Rec {
  const file = path.join(REPO_ROOT, '__tests__', 'fixtures', 'events', `${name}.json`)
  return JSON.parse(readFileSync(file, 'utf8')) as Rec
}

/** A writer's `@claude` comment on pull request `number`. */
function commentEvent(number: number, body: string): { name: string; payload: Rec } {
  const payload = fixture('issue_comment.pr-writer')
  const issue = record(payload.issue)
  issue.number = number
  record(payload.comment).body = body
  return { name: 'issue_comment', payload }
}

function git(dir: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=test',
      '-c',
      'user.email=test@example.com',
      '-c',
      `safe.directory=${dir}`,
      ...args
    ],
    { cwd: dir, encoding: 'utf8' }
  ).trim()
}

/** Every text of a request's messages, tool calls included, in order. */
function conversationText(request: RecordedRequest | undefined): string {
  const parts: string[] = []
  for (const message of (record(request?.body).messages as unknown[] | undefined) ?? []) {
    const { role, content } = record(message)
    if (typeof content === 'string') parts.push(`${String(role)}: ${content}`)
    for (const block of Array.isArray(content) ? content : []) {
      const b = record(block)
      if (b.type === 'text') parts.push(`${String(role)}: ${String(b.text)}`)
      if (b.type === 'tool_use') parts.push(`${String(role)} tool_use: ${JSON.stringify(b.input)}`)
    }
  }
  return parts.join('\n')
}

function roles(request: RecordedRequest | undefined): string[] {
  return ((record(request?.body).messages as unknown[] | undefined) ?? [])
    .map(m => String(record(m).role))
    .filter(role => role !== 'system')
}

/** Empties a directory the way the runner empties RUNNER_TEMP between jobs. */
function empty(dir: string): void {
  for (const entry of readdirSync(dir))
    rmSync(path.join(dir, entry), { recursive: true, force: true })
}

/** The stored entry as the tar archive it is (zstd or gzip, whichever the client used). */
async function entryArchive(service: FakeCacheService, entry: FakeCacheEntry): Promise<Buffer> {
  const blob = await readFakeBlob(service, entry)
  if (blob[0] === 0x1f && blob[1] === 0x8b) return gunzipSync(blob)
  return execFileSync('zstd', ['-d', '-c', '-q'], { input: blob, maxBuffer: 256 * 1024 * 1024 })
}

function sessionEntries(service: FakeCacheService): FakeCacheEntry[] {
  return service.entries.filter(e => e.finalized && e.key.startsWith('claude-sandbox-session-'))
}

const write = (file: string, content: string): Turn => ({
  tools: [{ name: 'Write', input: { file_path: `/workspace/${file}`, content } }]
})

describe('follow-ups continue the conversation (issue 24)', () => {
  let github: FakeGitHub
  let cache: FakeCacheService
  let runnerTemp: string
  let repo: string
  let headSha: string
  const runs: Record<string, ScenarioRun> = {}

  beforeAll(async () => {
    github = await FakeGitHub.start()
    cache = await startFakeCacheService()
    runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'e2e-continue-runner-'))
    repo = makeRepo({ 'README.md': '# Hello\n' }, 'e2e-continue-')
    const baseSha = git(repo, 'rev-parse', 'HEAD')
    writeFileSync(path.join(repo, 'greeting.txt'), 'Helo\n')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-q', '-m', 'the pull request')
    headSha = git(repo, 'rev-parse', 'HEAD')
    const repoRecord = github.addRepo(REPOSITORY)
    repoRecord.collaborators.set(WRITER, 'write')
    github.addRepo(FORK, { fork: true })
    github.addToken(GITHUB_TOKEN, {
      login: 'github-actions[bot]',
      type: 'Bot',
      permissions: { contents: 'read', pull_requests: 'write', issues: 'write' }
    })
    await github.seedFromGit(REPOSITORY, repo, { main: baseSha, 'fix-greeting': headSha })
    repoRecord.nextNumber = 42
    github.addPullRequest(REPOSITORY, { headRef: 'fix-greeting', user: WRITER }) // #42
    github.addPullRequest(REPOSITORY, { headRef: 'fix-greeting', user: WRITER }) // #43
    github.addPullRequest(REPOSITORY, { headRef: 'fix-greeting', headSha, headRepo: FORK }) // #44
  })

  afterAll(async () => {
    await github.stop()
    await cache.close()
    rmSync(runnerTemp, { recursive: true, force: true })
    rmSync(repo, { recursive: true, force: true })
  })

  /** One run on a fresh runner: RUNNER_TEMP emptied, the checkout back at the PR's head. */
  async function run(
    runId: string,
    turns: Turn[],
    event: { name: string; payload: Rec },
    inputs: Record<string, string> = {},
    at = headSha
  ): Promise<ScenarioRun> {
    empty(runnerTemp)
    git(repo, 'checkout', '-q', '--force', at)
    git(repo, 'clean', '-q', '-fdx')
    const result = await runScenario(turns, {
      repo,
      runnerTemp,
      event,
      inputs: { prompt: '', publish: 'comment', 'github-token': GITHUB_TOKEN, ...inputs },
      env: {
        ...cache.env,
        GITHUB_REPOSITORY: REPOSITORY,
        GITHUB_API_URL: github.url,
        GITHUB_RUN_ID: runId
      }
    })
    expect(result.run.errors).toEqual([])
    expect(result.run.exitCode).toBe(0)
    expect(result.run.outputs.conclusion).toBe('success')
    runs[runId] = result
    return result
  }

  it('run 1 leaves a session; run 2, a follow-up on the same pull request on a fresh runner, resumes it', async () => {
    const first = await run(
      '1001',
      [
        write('notes.md', 'ALPHA notes from run one\n'),
        { text: 'Run one: wrote notes.md (ALPHA).' }
      ],
      commentEvent(42, '@claude please write notes')
    )
    const sessionId = first.run.outputs['session-id'] ?? ''
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.run.outputs['resumed-from']).toBeUndefined()
    expect(first.run.stdout).toMatch(/no saved session of pull request #42/)
    expect(first.run.summary).toMatch(/The session was saved for a follow-up on pull request #42/)
    const saved = sessionEntries(cache)
    // Saved twice: found by the conversation, and by its session id.
    expect(saved.map(e => e.key)).toEqual([
      expect.stringMatching(/^claude-sandbox-session-v1-base-[0-9a-f]{16}-pr-42-/),
      expect.stringMatching(
        new RegExp(`^claude-sandbox-session-v1-base-[0-9a-f]{16}-id-${sessionId}-`)
      )
    ])

    // Meanwhile someone pushed to the pull request's branch.
    git(repo, 'checkout', '-q', '--force', headSha)
    writeFileSync(path.join(repo, 'greeting.txt'), 'Hello\n')
    git(repo, 'commit', '-q', '-am', 'Fix the greeting by hand')
    const pushed = git(repo, 'rev-parse', 'HEAD')
    const second = await run(
      '1002',
      [
        // What the real API bills a resumed conversation's first turn: the earlier context read
        // from the prompt cache.
        { ...write('CHANGELOG.md', '- BETA: notes\n'), usage: { cache_read_input_tokens: 4321 } },
        { text: 'Run two: BETA, building on ALPHA.' }
      ],
      commentEvent(42, '@claude also update the changelog'),
      {},
      pushed
    )
    if (process.env.CONTINUE_DUMP) {
      writeFileSync(`${process.env.CONTINUE_DUMP}.summary.md`, second.run.summary)
      writeFileSync(`${process.env.CONTINUE_DUMP}.stdout`, second.run.stdout)
    }
    // The stand-in API sees the earlier turns in run 2's first request.
    const [firstOfRun2] = second.api.mainRequests()
    const text = conversationText(firstOfRun2)
    expect(text).toContain('please write notes')
    expect(text).toContain('ALPHA notes from run one')
    expect(text).toContain('assistant: Run one: wrote notes.md (ALPHA).')
    expect(text.indexOf('Run one: wrote notes.md')).toBeLessThan(
      text.indexOf('also update the changelog')
    )
    // user, assistant (tool call), user (result), assistant (answer), user (the follow-up)
    expect(roles(firstOfRun2)).toEqual(['user', 'assistant', 'user', 'assistant', 'user'])
    // Before the new prompt, what was pushed since run 1: the commit's subject and its files.
    expect(text.slice(text.indexOf('Run one: wrote notes.md'))).toMatch(
      /the branch moved from [0-9a-f]{12} to [0-9a-f]{12}[\s\S]*Fix the greeting by hand\n {4}greeting\.txt[\s\S]*also update the changelog/
    )
    expect(second.run.summary).toMatch(/The branch moved since that run: 1 new commit/)
    expect(second.run.outputs['resumed-from']).toBe('1001')
    expect(second.run.outputs['session-id']).toBe(sessionId)
    expect(second.run.stdout).toContain(`Resuming session ${sessionId} of run 1001`)
    expect(second.run.summary).toMatch(/Resumed the conversation/)
    expect(second.run.summary).toContain(`continued session \`${sessionId}\` of [run 1001](`)
    // The gateway's figures: the cache reads a resume brought, beside the earlier runs' cost.
    expect(second.run.summary).toContain(
      '| Read from the prompt cache (a tenth of the input price) | 4,321 |'
    )
    expect(second.run.summary).toMatch(/the earlier conversation: 1 earlier run, 2 turns/)

    // One comment on the pull request, showing both runs: the first run's report kept, the
    // follow-up's appended.
    const comments = github.comments(REPOSITORY, 42)
    expect(comments).toHaveLength(1)
    const body = comments[0]?.body ?? ''
    if (process.env.CONTINUE_DUMP) writeFileSync(`${process.env.CONTINUE_DUMP}.comment.md`, body)
    expect(body).toContain('Run one: wrote notes.md (ALPHA).')
    expect(body).toContain('notes.md')
    expect(body).toMatch(/Follow-up \(continued the session of \[run 1001\]/)
    expect(body).toContain('Run two: BETA, building on ALPHA.')
    expect(body).toContain('CHANGELOG.md')
    expect(body.indexOf('Run one:')).toBeLessThan(body.indexOf('Follow-up'))
    expect(body.indexOf('Follow-up')).toBeLessThan(body.indexOf('Run two:'))
    expect(github.validationFailures).toEqual([])
  })

  it('the saved session holds no credential: the stored entries, grepped for the key and the GitHub token', async () => {
    const entries = sessionEntries(cache)
    expect(entries.length).toBeGreaterThanOrEqual(4)
    const sessionId = runs['1001']?.run.outputs['session-id'] ?? ''
    for (const entry of entries) {
      const archive = await entryArchive(cache, entry)
      // What is there: the session's metadata and its transcript.
      expect(archive.includes(Buffer.from('session.json'))).toBe(true)
      expect(archive.includes(Buffer.from(`${sessionId}.jsonl`))).toBe(true)
      expect(archive.includes(Buffer.from('ALPHA notes from run one'))).toBe(true)
      // What is not.
      for (const secret of [SECRET_API_KEY, GITHUB_TOKEN]) {
        expect(archive.includes(Buffer.from(secret))).toBe(false)
        expect(archive.includes(Buffer.from(Buffer.from(secret).toString('base64')))).toBe(false)
      }
    }
  })

  it('the same follow-up on another pull request does not resume', async () => {
    const other = await run(
      '1003',
      [{ text: 'Run three: a fresh start.' }],
      commentEvent(43, '@claude also update the changelog')
    )
    expect(other.run.outputs['resumed-from']).toBeUndefined()
    expect(other.run.stdout).toMatch(/no saved session of pull request #43/)
    const [firstRequest] = other.api.mainRequests()
    expect(conversationText(firstRequest)).toContain('also update the changelog')
    expect(conversationText(firstRequest)).not.toContain('ALPHA')
    expect(roles(firstRequest)).toEqual(['user'])
    expect(other.run.outputs['session-id']).not.toBe(runs['1001']?.run.outputs['session-id'])
  })

  it('continue: never does not resume', async () => {
    const never = await run(
      '1004',
      [{ text: 'Run four: a fresh start.' }],
      commentEvent(42, '@claude also update the changelog'),
      { continue: 'never' }
    )
    expect(never.run.outputs['resumed-from']).toBeUndefined()
    expect(never.run.stdout).toMatch(/continue: never, so this run starts afresh/)
    const [firstRequest] = never.api.mainRequests()
    expect(conversationText(firstRequest)).not.toContain('ALPHA')
    expect(roles(firstRequest)).toEqual(['user'])
    // Replaced as before: no follow-up section.
    const body = github.comments(REPOSITORY, 42)[0]?.body ?? ''
    expect(body).toContain('Run four: a fresh start.')
    expect(body).not.toContain('Follow-up')
  })

  it('a session saved from a fork’s pull request is not resumed on a maintainer’s run of the base repo', async () => {
    const onFork = await run(
      '1005',
      [write('fork.md', 'GAMMA from the fork run\n'), { text: 'Run five on the fork: GAMMA.' }],
      commentEvent(44, '@claude look at this fork')
    )
    const forkSession = onFork.run.outputs['session-id'] ?? ''
    expect(forkSession).toMatch(/^[0-9a-f-]{36}$/)
    const forkKeys = sessionEntries(cache)
      .map(e => e.key)
      .filter(key => key.includes(forkSession))
    expect(forkKeys).toEqual([
      expect.stringMatching(/^claude-sandbox-session-v1-fork-[0-9a-f]{16}-id-/)
    ])
    expect(sessionEntries(cache).some(e => /-fork-[0-9a-f]{16}-pr-44-/.test(e.key))).toBe(true)

    // The maintainer's own run of the base repository, naming the fork run's session.
    const maintainer = await run(
      '1006',
      [{ text: 'Run six: a fresh start.' }],
      { name: 'workflow_dispatch', payload: {} },
      { prompt: 'Continue the earlier work.', publish: 'patch', continue: forkSession }
    )
    expect(maintainer.run.outputs['resumed-from']).toBeUndefined()
    expect(maintainer.run.stdout).toMatch(
      new RegExp(
        `::warning::Not resuming: no saved session ${forkSession} .*same origin \\(base\\)`
      )
    )
    const [firstRequest] = maintainer.api.mainRequests()
    expect(conversationText(firstRequest)).not.toContain('GAMMA')
    expect(roles(firstRequest)).toEqual(['user'])

    // The control: a follow-up on the fork's own pull request (same origin) does resume it.
    const followUp = await run(
      '1007',
      [{ text: 'Run seven on the fork.' }],
      commentEvent(44, '@claude and then?')
    )
    expect(followUp.run.outputs['resumed-from']).toBe('1005')
    expect(conversationText(followUp.api.mainRequests()[0])).toContain('GAMMA from the fork run')
  })
})
