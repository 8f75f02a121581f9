/**
 * Issue 4 through dist/: the real agent in the sandbox changes the repository, and the main
 * action publishes the result to a local GitHub REST server that validates every request body
 * against GitHub's OpenAPI description and keeps state.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { FakeGitHub, WRITE_ALL } from '../servers/fake-github.js'
import { git, makeRepo, runScenario } from '../helpers/e2e.js'
import type { Turn } from '../servers/fake-anthropic.js'

const REPO = 'octo-org/octo-repo'
const TOKEN = 'ghs_e2e_publish_token'

let fake: FakeGitHub
const repos: string[] = []

beforeAll(async () => {
  fake = await FakeGitHub.start()
})
afterAll(async () => {
  await fake.stop()
  for (const dir of repos) rmSync(dir, { recursive: true, force: true })
})
afterEach(() => {
  // Every request any test made had a body GitHub's schema accepts.
  expect(fake.validationFailures).toEqual([])
})

/** A repository with main and a feature branch, checked out at the feature branch. */
async function pullRequestRepository(): Promise<{
  dir: string
  number: number
  payload: Record<string, unknown>
}> {
  const dir = makeRepo({ 'run.sh': '#!/bin/sh\necho run\n' })
  repos.push(dir)
  git(dir, 'checkout', '-q', '-b', 'feature')
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'feature work')
  const name = `${REPO}-${repos.length}`
  fake.addRepo(name, { defaultBranch: 'main' })
  fake.addToken(TOKEN, WRITE_ALL)
  await fake.seedFromGit(name, dir, { main: 'main', feature: 'feature' })
  const pr = fake.addPullRequest(name, { headRef: 'feature' })
  return { dir, number: pr.number, payload: fake.pullRequestEvent(name, pr.number) }
}

function env(repoName: string): Record<string, string> {
  return {
    GITHUB_REPOSITORY: repoName,
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: fake.serverUrl
  }
}

const writeAndChmod: Turn[] = [
  {
    tools: [
      {
        name: 'Write',
        input: { file_path: '/workspace/NOTES.md', content: '# Notes\n\nFrom the agent.\n' }
      },
      {
        name: 'Bash',
        input: {
          command: 'chmod -x /workspace/run.sh && printf "\\0bin" > /workspace/data.bin',
          description: 'x'
        }
      }
    ]
  },
  { text: 'Added NOTES.md.' }
]

describe('publishing through dist/', () => {
  it('comment: one sticky comment on the pull request, updated on a rerun', async () => {
    const { dir, number, payload } = await pullRequestRepository()
    const name = `${REPO}-${repos.length}`
    const event = { name: 'pull_request', payload }
    const inputs = { publish: 'comment', 'github-token': TOKEN }
    const first = await runScenario(writeAndChmod, { repo: dir, inputs, env: env(name), event })
    expect(first.run.errors).toEqual([])
    const comments = fake.comments(name, number)
    expect(comments).toHaveLength(1)
    expect(comments[0]?.body).toContain('NOTES.md')
    expect(comments[0]?.body).toContain('> Added NOTES.md.')
    expect(first.run.outputs['comment-url']).toContain(`#issuecomment-${comments[0]?.id}`)

    // The rerun starts from a clean checkout, as a new job would.
    execFileSync('git', ['checkout', '-q', '--', '.'], { cwd: dir })
    execFileSync('git', ['clean', '-qfd'], { cwd: dir })
    const second = await runScenario(writeAndChmod, { repo: dir, inputs, env: env(name), event })
    expect(second.run.errors).toEqual([])
    expect(fake.comments(name, number)).toHaveLength(1)
    expect(second.run.outputs['comment-url']).toBe(first.run.outputs['comment-url'])
  })

  it('commit: one commit on the pull request branch carrying mode, binary and new file', async () => {
    const { dir, payload } = await pullRequestRepository()
    const name = `${REPO}-${repos.length}`
    const before = fake.ref(name, 'feature')
    const { run } = await runScenario(writeAndChmod, {
      repo: dir,
      inputs: { publish: 'commit', 'github-token': TOKEN },
      env: env(name),
      event: { name: 'pull_request', payload }
    })
    expect(run.errors).toEqual([])
    const sha = run.outputs['commit-sha'] ?? ''
    expect(sha).toBe(fake.ref(name, 'feature'))
    expect(fake.store.commits.get(sha)?.parents).toEqual([before])
    const tree = fake.readTree(sha)
    expect(tree.get('NOTES.md')?.content?.toString()).toBe('# Notes\n\nFrom the agent.\n')
    expect(tree.get('run.sh')?.mode).toBe('100644')
    expect(tree.get('data.bin')?.content?.equals(Buffer.from('\0bin'))).toBe(true)
  })

  it('pull-request: opens one pull request and updates it on a rerun', async () => {
    const dir = makeRepo()
    repos.push(dir)
    const name = `${REPO}-${repos.length}`
    fake.addRepo(name, { defaultBranch: 'main' })
    fake.addToken(TOKEN, WRITE_ALL)
    await fake.seedFromGit(name, dir, { main: 'main' })
    const inputs = { publish: 'pull-request', 'github-token': TOKEN }
    const event = { name: 'schedule', payload: { schedule: '0 3 * * 1' } }
    const first = await runScenario(writeAndChmod, { repo: dir, inputs, env: env(name), event })
    expect(first.run.errors).toEqual([])
    expect(first.run.outputs['pull-request-number']).toMatch(/^\d+$/)
    execFileSync('git', ['checkout', '-q', '--', '.'], { cwd: dir })
    execFileSync('git', ['clean', '-qfd'], { cwd: dir })
    const second = await runScenario(writeAndChmod, { repo: dir, inputs, env: env(name), event })
    expect(second.run.errors).toEqual([])
    expect(second.run.outputs['pull-request-number']).toBe(first.run.outputs['pull-request-number'])
    expect(fake.pulls(name).filter(pr => pr.state === 'open')).toHaveLength(1)
  })

  it('a protected path fails the step listing it, publishes nothing, and keeps the patch', async () => {
    const { dir, number, payload } = await pullRequestRepository()
    const name = `${REPO}-${repos.length}`
    const before = fake.ref(name, 'feature')
    const { run } = await runScenario(
      [
        {
          tools: [
            {
              name: 'Write',
              input: { file_path: '/workspace/.github/workflows/pwn.yml', content: 'on: push\n' }
            }
          ]
        },
        { text: 'Edited the workflow.' }
      ],
      {
        repo: dir,
        inputs: { publish: 'commit', 'github-token': TOKEN },
        env: env(name),
        event: { name: 'pull_request', payload }
      }
    )
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain('.github/workflows/pwn.yml')
    expect(fake.ref(name, 'feature')).toBe(before)
    expect(fake.comments(name, number)).toHaveLength(0)
    expect(run.outputs.conclusion).toBe('success')
    const patch = run.outputs['patch-path'] ?? ''
    expect(existsSync(patch) && readFileSync(patch, 'utf8')).toContain('.github/workflows/pwn.yml')
  })
})
