import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getOctokit } from '@actions/github'
import {
  checkWritePermission,
  decideTrigger,
  fetchPullRequest,
  startsWithTriggerPhrase,
  type TriggerDecision
} from '../../src/triggers/event.js'
import { buildPrompt, DEFAULT_EVENT_PROMPT } from '../../src/triggers/prompt.js'
import { pullRequestNumber, resolvePublishMode } from '../../src/github/context.js'
import { resolveTrigger } from '../../src/triggers/resolve.js'

const FIXTURES = new URL('../fixtures/events/', import.meta.url)

/** A fixture named `<event>.<case>.json` (or `<event>.json`), decided with the action's defaults. */
function decide(
  fixture: string,
  options: { eventName?: string; triggerPhrase?: string; labelTrigger?: string } = {}
): TriggerDecision {
  const payload: unknown = JSON.parse(readFileSync(new URL(`${fixture}.json`, FIXTURES), 'utf8'))
  return decideTrigger({
    eventName: options.eventName ?? fixture.split('.')[0] ?? '',
    payload,
    triggerPhrase: options.triggerPhrase ?? '@claude',
    labelTrigger: options.labelTrigger ?? ''
  })
}

describe('decideTrigger', () => {
  it('runs a comment on a pull request that starts with the phrase, after a permission check', () => {
    const decision = decide('issue_comment.pr-writer')
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toEqual({ actor: 'octo-maintainer' })
    expect(decision.pullRequestNumber).toBe(42)
    expect(decision.issueNumber).toBe(42)
    // The payload does not describe the pull request's branches: fetchPullRequest does.
    expect(decision.pullRequest).toBeUndefined()
    expect(decision.untrusted.map(u => u.label)).toEqual([
      'comment by @octo-maintainer',
      'pull request title',
      'pull request body'
    ])
    expect(decision.untrusted[0]?.text).toBe('@claude please make the failing test pass')
  })

  it('asks for the same check for a reader: the API, not the payload, decides', () => {
    const decision = decide('issue_comment.pr-reader')
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toEqual({ actor: 'octo-reader' })
  })

  it('does nothing for a comment that does not start with the phrase', () => {
    const decision = decide('issue_comment.no-phrase')
    expect(decision.run).toBe(false)
    expect(decision.reason).toMatch(/does not start with "@claude"/)
    expect(decision.untrusted).toEqual([])
  })

  it('ignores leading whitespace, invisible characters and case', () => {
    const decision = decide('issue_comment.issue-writer')
    expect(decision.run).toBe(true)
    expect(decision.pullRequestNumber).toBeUndefined()
    expect(decision.issueNumber).toBe(7)
    expect(decision.untrusted.map(u => u.label)).toEqual([
      'comment by @octo-maintainer',
      'issue title',
      'issue body'
    ])
    expect(startsWithTriggerPhrase('\u200B\n @CLAUDE fix it', '@claude')).toBe(true)
    expect(startsWithTriggerPhrase('<!-- x -->@claude fix it', '@claude')).toBe(true)
    expect(startsWithTriggerPhrase('@claude, fix it', '@claude')).toBe(true)
    expect(startsWithTriggerPhrase('@claude', '@claude')).toBe(true)
  })

  it('needs the phrase as a whole word at the start', () => {
    expect(startsWithTriggerPhrase('@claudette fix it', '@claude')).toBe(false)
    expect(startsWithTriggerPhrase('@claude-bot fix it', '@claude')).toBe(false)
    expect(startsWithTriggerPhrase('please @claude fix it', '@claude')).toBe(false)
    expect(startsWithTriggerPhrase('@claude fix it', '')).toBe(false)
    expect(decide('issue_comment.pr-writer', { triggerPhrase: '/fix' }).run).toBe(false)
    expect(decide('issue_comment.pr-writer', { triggerPhrase: '' }).reason).toMatch(/empty/)
  })

  it('does nothing for an edited or deleted comment', () => {
    const payload = JSON.parse(
      readFileSync(new URL('issue_comment.pr-writer.json', FIXTURES), 'utf8')
    ) as Record<string, unknown>
    for (const action of ['edited', 'deleted']) {
      const decision = decideTrigger({
        eventName: 'issue_comment',
        payload: { ...payload, action },
        triggerPhrase: '@claude',
        labelTrigger: ''
      })
      expect(decision.run).toBe(false)
    }
  })

  it('never runs a fork pull request on pull_request, where it has no secrets', () => {
    const decision = decide('pull_request.fork')
    expect(decision.run).toBe(false)
    expect(decision.reason).toMatch(/fork/)
  })

  it('runs a fork pull request on pull_request_target only for a sender who can write', () => {
    const decision = decide('pull_request.fork', { eventName: 'pull_request_target' })
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toEqual({ actor: 'fork-author' })
    expect(decision.pullRequest).toEqual({
      number: 43,
      baseRef: 'main',
      baseSha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
      headRef: 'patch-1',
      headSha: 'a10867b14bb761a232cd80139fbd4c0d33264240',
      headRepoFullName: 'fork-author/hello-world',
      isFork: true
    })
  })

  it('runs a same-repository pull request without a check and gives its text as untrusted', () => {
    const decision = decide('pull_request.same-repo')
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toBeUndefined()
    expect(decision.pullRequest?.isFork).toBe(false)
    expect(decision.pullRequest?.baseSha).toBe('6dcb09b5b57875f334f61aebed695e2e4193db5e')
    expect(decision.untrusted.map(u => u.label)).toEqual([
      'pull request title',
      'pull request body'
    ])
  })

  it('lets label-trigger gate pull requests: only the label runs, and the labeller is checked', () => {
    expect(decide('pull_request.same-repo', { labelTrigger: 'claude' }).run).toBe(false)
    const labeled = decide('pull_request.labeled', {
      eventName: 'pull_request_target',
      labelTrigger: 'Claude'
    })
    expect(labeled.run).toBe(true)
    expect(labeled.needsPermissionCheck).toEqual({ actor: 'octo-maintainer' })
    expect(decide('pull_request.labeled', { eventName: 'pull_request_target' }).run).toBe(false)
    expect(
      decide('pull_request.labeled', { eventName: 'pull_request_target', labelTrigger: 'other' })
        .run
    ).toBe(false)
  })

  it('runs on a review comment with the phrase and carries the pull request', () => {
    const decision = decide('pull_request_review_comment.writer')
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toEqual({ actor: 'octo-maintainer' })
    expect(decision.pullRequest?.headRef).toBe('fix-greeting')
    expect(decision.untrusted[0]?.text).toMatch(/^File: README.md \(line 1\)\n\n@claude/)
    expect(decision.untrusted[1]?.label).toBe('diff hunk the review comment is attached to')
  })

  it('runs an issue labeled with label-trigger, checking the labeller', () => {
    const decision = decide('issues.labeled', { labelTrigger: 'claude' })
    expect(decision.run).toBe(true)
    expect(decision.needsPermissionCheck).toEqual({ actor: 'octo-maintainer' })
    expect(decision.issueNumber).toBe(7)
    expect(decision.untrusted.map(u => u.label)).toEqual(['issue title', 'issue body'])
    expect(decide('issues.labeled').run).toBe(false)
  })

  it('runs schedule and workflow_dispatch with no untrusted text and no check', () => {
    for (const fixture of ['schedule', 'workflow_dispatch']) {
      const decision = decide(fixture)
      expect(decision).toEqual({ run: true, reason: `${fixture} event`, untrusted: [] })
    }
  })

  it('refuses events it does not know, and runs with no event at all', () => {
    const discussion = decideTrigger({
      eventName: 'discussion',
      payload: {},
      triggerPhrase: '@claude',
      labelTrigger: ''
    })
    expect(discussion.run).toBe(false)
    expect(discussion.reason).toMatch(/not a trigger/)
    expect(
      decideTrigger({
        eventName: '',
        payload: undefined,
        triggerPhrase: '@claude',
        labelTrigger: ''
      }).run
    ).toBe(true)
  })
})

describe('workflow_run', () => {
  const payload = JSON.parse(
    readFileSync(new URL('workflow_run.failure.json', FIXTURES), 'utf8')
  ) as Record<string, Record<string, unknown>>
  const decideRun = (change: (p: typeof payload) => void) => {
    const copy = JSON.parse(JSON.stringify(payload)) as typeof payload
    change(copy)
    return decideTrigger({
      eventName: 'workflow_run',
      payload: copy,
      triggerPhrase: '@claude',
      labelTrigger: ''
    })
  }

  it('runs for a failed run of a pull request of this repository, checking who triggered it', () => {
    const decision = decideRun(() => undefined)
    expect(decision).toMatchObject({
      run: true,
      needsPermissionCheck: { actor: 'octo-writer' },
      untrusted: [],
      pullRequestNumber: 42,
      pullRequest: {
        number: 42,
        baseRef: 'main',
        baseSha: '2222222222222222222222222222222222222222',
        headRef: 'feature',
        headSha: '1111111111111111111111111111111111111111',
        headRepoFullName: 'octo-org/octo-repo',
        isFork: false
      }
    })
    expect(decision.reason).toMatch(/CI failed on pull request #42/)
  })

  it('publishes to that pull request (comment, commit)', () => {
    const context = {
      owner: 'octo-org',
      repo: 'octo-repo',
      eventName: 'workflow_run',
      payload,
      workflow: 'fix',
      job: 'agent',
      runId: '1',
      serverUrl: 'https://github.com',
      apiUrl: 'https://api.github.com'
    }
    expect(pullRequestNumber(context)).toBe(42)
    expect(resolvePublishMode('auto', context)).toBe('comment')
  })

  it('does nothing for a run that passed, is not completed, or names no pull request (a fork)', () => {
    expect(decideRun(p => (p.workflow_run!.conclusion = 'success')).reason).toMatch(
      /ended with success, not failure/
    )
    expect(decideRun(p => (p.action = 'requested' as never)).run).toBe(false)
    const fork = decideRun(p => {
      p.workflow_run!.pull_requests = []
    })
    expect(fork.run).toBe(false)
    expect(fork.reason).toMatch(/not for a pull request of this repository/)
  })
})

describe('buildPrompt', () => {
  it('puts the workflow prompt first and the event text in untrusted blocks, cleaned', () => {
    const prompt = buildPrompt('Fix what the comment asks.', decide('issue_comment.pr-writer'))
    expect(prompt.startsWith('Fix what the comment asks.\n\n')).toBe(true)
    expect(prompt).toContain('(pull request #42)')
    expect(prompt.match(/<untrusted-input id="[0-9a-f]{32}"/g)).toHaveLength(3)
    expect(prompt.match(/<\/untrusted-input id="[0-9a-f]{32}">/g)).toHaveLength(3)
    // The PR body's hidden HTML comment never reaches the agent; CRLF became LF.
    expect(prompt).not.toContain('API key')
    expect(prompt).not.toContain('\r')
    expect(prompt.indexOf('Fix what the comment asks.')).toBeLessThan(
      prompt.indexOf('<untrusted-input')
    )
  })

  it('is just the prompt when the event brings no text', () => {
    expect(buildPrompt('  Tidy the README.\n', decide('schedule'))).toBe('Tidy the README.')
  })

  it('uses a trusted default task when the workflow gives none', () => {
    const prompt = buildPrompt('', decide('issues.labeled', { labelTrigger: 'claude' }))
    expect(prompt.startsWith(DEFAULT_EVENT_PROMPT)).toBe(true)
    expect(prompt).toContain('(issue #7)')
  })
})

describe('GitHub API checks, against a local server over HTTP', () => {
  const permissions: Record<string, { permission: string; role_name: string }> = {
    'octo-admin': { permission: 'admin', role_name: 'admin' },
    'octo-maintainer': { permission: 'write', role_name: 'maintain' },
    'octo-writer': { permission: 'write', role_name: 'write' },
    'octo-triager': { permission: 'read', role_name: 'triage' },
    'octo-reader': { permission: 'read', role_name: 'read' },
    'octo-outsider': { permission: 'none', role_name: 'none' }
  }
  const seen: string[] = []
  let server: Server
  let baseUrl = ''

  beforeAll(async () => {
    const pullRequest: unknown = JSON.parse(
      readFileSync(new URL('pull_request.fork.json', FIXTURES), 'utf8')
    )
    const sameRepo: unknown = JSON.parse(
      readFileSync(new URL('pull_request.same-repo.json', FIXTURES), 'utf8')
    )
    server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url} ${request.headers.authorization ?? ''}`)
      const reply = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        response.end(JSON.stringify(body))
      }
      const permission =
        /^\/repos\/octo-org\/hello-world\/collaborators\/([^/]+)\/permission$/.exec(
          request.url ?? ''
        )
      if (permission) {
        const user = decodeURIComponent(permission[1] ?? '')
        if (user === 'octo-broken') return reply(500, { message: 'Server Error' })
        const answer = permissions[user]
        if (!answer)
          return reply(404, {
            message: 'Not Found',
            documentation_url: 'https://docs.github.com/rest',
            status: '404'
          })
        return reply(200, { ...answer, user: { login: user, type: 'User' } })
      }
      if (request.url === '/repos/octo-org/hello-world/pulls/43')
        return reply(200, (pullRequest as { pull_request: unknown }).pull_request)
      if (request.url === '/repos/octo-org/hello-world/pulls/42')
        return reply(200, (sameRepo as { pull_request: unknown }).pull_request)
      reply(404, { message: 'Not Found' })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await new Promise<void>(resolve => server.close(() => resolve()))
  })

  it('grants admin, maintain and write; refuses triage, read, none and unknown users', async () => {
    const octokit = getOctokit('test-token', { baseUrl })
    const check = (actor: string): Promise<boolean> =>
      checkWritePermission(octokit, 'octo-org', 'hello-world', actor)
    expect(await check('octo-admin')).toBe(true)
    expect(await check('octo-maintainer')).toBe(true)
    expect(await check('octo-writer')).toBe(true)
    expect(await check('octo-triager')).toBe(false)
    expect(await check('octo-reader')).toBe(false)
    expect(await check('octo-outsider')).toBe(false)
    expect(await check('ghost-user')).toBe(false)
    expect(await check('')).toBe(false)
    expect(seen).toContain(
      'GET /repos/octo-org/hello-world/collaborators/octo-reader/permission token test-token'
    )
  })

  it('fails closed when the check itself fails', async () => {
    const octokit = getOctokit('test-token', { baseUrl })
    await expect(
      checkWritePermission(octokit, 'octo-org', 'hello-world', 'octo-broken')
    ).rejects.toThrow()
  })

  it('fetches the pull request an issue comment was made on', async () => {
    const octokit = getOctokit('test-token', { baseUrl })
    const pr = await fetchPullRequest(octokit, 'octo-org', 'hello-world', 43)
    expect(pr).toMatchObject({
      number: 43,
      baseSha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
      headRepoFullName: 'fork-author/hello-world',
      isFork: true
    })
  })

  describe('resolveTrigger', () => {
    const resolve = (fixture: string): Promise<TriggerDecision> =>
      resolveTrigger({
        eventName: fixture.split('.')[0] ?? '',
        payload: JSON.parse(readFileSync(new URL(`${fixture}.json`, FIXTURES), 'utf8')),
        triggerPhrase: '@claude',
        labelTrigger: '',
        client: getOctokit('test-token', { baseUrl }),
        owner: 'octo-org',
        repo: 'hello-world'
      })

    it('runs a writer’s comment and fills in the pull request it was made on', async () => {
      const decision = await resolve('issue_comment.pr-writer')
      expect(decision.run).toBe(true)
      expect(decision.pullRequest).toMatchObject({
        number: 42,
        baseSha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
        headRef: 'fix-greeting',
        isFork: false
      })
    })

    it('turns a reader’s comment into a notice that nothing was done', async () => {
      const decision = await resolve('issue_comment.pr-reader')
      expect(decision).toEqual({
        run: false,
        reason: expect.stringMatching(
          /@octo-reader does not have write permission on octo-org\/hello-world, so nothing was done/
        ),
        untrusted: []
      })
    })

    it('asks nothing of the API when the event does not start a run', async () => {
      const before = seen.length
      expect((await resolve('issue_comment.no-phrase')).run).toBe(false)
      expect((await resolve('schedule')).run).toBe(true)
      expect(seen.length).toBe(before)
    })
  })
})
