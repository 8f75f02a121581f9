/**
 * Issue 13 through dist/: the run's patch, transcript and logs go up as one workflow artifact
 * with the real @actions/artifact client (bundled in dist/) to a local artifact service; the
 * job summary and the pull request comment the local GitHub received link to it and to the run,
 * and name no path on the runner. The comment says "working…" while the agent runs. With the
 * service down, the run still succeeds, warns, and the summary says where the files are.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { git, leftoverContainers, makeRepo, runScenario } from '../helpers/e2e.js'
import type { Turn } from '../servers/fake-anthropic.js'
import { startFakeArtifactService, type FakeArtifactService } from '../servers/fake-artifact.js'
import { FakeGitHub, WRITE_ALL } from '../servers/fake-github.js'

const REPO = 'octo-org/artifact-repo'
const TOKEN = 'ghs_e2e_artifact_token'
/** The artifact client refuses hosts other than github.com / *.ghe.com (GHES has no service). */
const SERVER = 'https://github.com'
const RUN_URL = `${SERVER}/${REPO}/actions/runs/4242`

let github: FakeGitHub
let artifacts: FakeArtifactService
const dirs: string[] = []

beforeAll(async () => {
  github = await FakeGitHub.start({ serverUrl: SERVER })
  artifacts = await startFakeArtifactService()
})
afterAll(async () => {
  await github.stop()
  await artifacts.close()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const addNotes: Turn[] = [
  {
    tools: [
      {
        name: 'Write',
        input: { file_path: '/workspace/NOTES.md', content: '# Notes\n\nFrom the agent.\n' }
      }
    ]
  },
  { text: 'Added NOTES.md.' }
]

function unzip(zip: Buffer): { names: string[]; read(name: string): string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'artifact-zip-'))
  dirs.push(dir)
  const file = path.join(dir, 'artifact.zip')
  writeFileSync(file, zip)
  return {
    names: execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .sort(),
    read: name => execFileSync('unzip', ['-p', file, name], { encoding: 'utf8' })
  }
}

/** A port nothing listens on (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise(resolve => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 9))
    })
  })
}

describe('the run artifact through dist/', () => {
  it('a pull-request run with publish: comment uploads patch and transcript, and both reports link it', async () => {
    const dir = makeRepo()
    dirs.push(dir)
    git(dir, 'checkout', '-q', '-b', 'feature')
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'feature work')
    github.addRepo(REPO, { defaultBranch: 'main' })
    github.addToken(TOKEN, WRITE_ALL)
    await github.seedFromGit(REPO, dir, { main: 'main', feature: 'feature' })
    const pr = github.addPullRequest(REPO, { headRef: 'feature' })

    // What the pull request showed while the run went on: polled in-process, bounded by the run.
    const seen = new Set<string>()
    let poll: NodeJS.Timeout | undefined
    const { run } = await runScenario(addNotes, {
      during: () => {
        poll = setInterval(() => {
          for (const c of github.comments(REPO, pr.number)) seen.add(c.body)
        }, 50)
      },
      repo: dir,
      inputs: { publish: 'comment', 'github-token': TOKEN, 'artifact-retention-days': '3' },
      env: {
        GITHUB_REPOSITORY: REPO,
        GITHUB_API_URL: github.url,
        GITHUB_SERVER_URL: SERVER,
        GITHUB_JOB: 'review',
        GITHUB_RUN_ATTEMPT: '1',
        ...artifacts.env('job-review')
      },
      event: { name: 'pull_request', payload: github.pullRequestEvent(REPO, pr.number) }
    })
    clearInterval(poll)
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).not.toContain('::warning::')
    expect(github.validationFailures).toEqual([])

    // "working…" with the live log first, then the same comment replaced by the result.
    const working = [...seen].find(body => body.includes('Claude Code is working…'))
    expect(working).toContain(`[the workflow run](${RUN_URL})`)
    expect(github.comments(REPO, pr.number)).toHaveLength(1)
    expect(github.comments(REPO, pr.number)[0]?.body).not.toContain('working…')

    // One artifact, named per job and attempt, holding the run's files as they are on disk.
    const [stored] = artifacts.artifacts
    expect(artifacts.artifacts).toHaveLength(1)
    expect(stored?.name).toBe('claude-sandbox-review-1')
    expect(stored?.finalized).toBe(true)
    const zip = unzip(await artifacts.read(stored!))
    expect(zip.names).toEqual([
      'claude-execution.jsonl',
      'claude.patch',
      'gateway.log',
      'network.log'
    ])
    const patchPath = run.outputs['patch-path'] ?? ''
    expect(zip.read('claude.patch')).toBe(readFileSync(patchPath, 'utf8'))
    expect(zip.read('claude.patch')).toContain('+++ b/NOTES.md')
    expect(zip.read('claude-execution.jsonl')).toBe(
      readFileSync(run.outputs['execution-file'] ?? '', 'utf8')
    )
    expect(zip.read('gateway.log')).toContain('/v1/messages')

    // artifact-url points at that artifact's page in this run.
    const url = `${RUN_URL}/artifacts/${stored?.id}`
    expect(run.outputs['artifact-id']).toBe(String(stored?.id))
    expect(run.outputs['artifact-url']).toBe(url)
    expect(run.outputs['artifact-name']).toBe('claude-sandbox-review-1')

    // The summary and the comment link the artifact and the run, and name no runner path.
    const [comment] = github.comments(REPO, pr.number)
    expect(comment).toBeDefined()
    for (const text of [run.summary, comment?.body ?? '']) {
      expect(text).toContain(`(${url})`)
      expect(text).toContain(`(${RUN_URL})`)
      expect(text).not.toContain(run.runnerTemp)
      expect(text).not.toContain(path.dirname(patchPath))
    }
    expect(comment?.body).toContain('--name claude-sandbox-review-1')
    // The log still says where the files are.
    expect(run.stdout).toContain(patchPath)
    // This run's container is gone (the daemon is shared: others' may be running).
    expect(leftoverContainers()).not.toContain(`claude-sandbox-${run.state.runId}`)
  })

  it('a run that ends without a published result replaces "working…" with the reason', async () => {
    const dir = makeRepo()
    dirs.push(dir)
    git(dir, 'checkout', '-q', '-b', 'feature')
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'feature work')
    const name = `${REPO}-refused`
    github.addRepo(name, { defaultBranch: 'main' })
    await github.seedFromGit(name, dir, { main: 'main', feature: 'feature' })
    const pr = github.addPullRequest(name, { headRef: 'feature' })
    const touchWorkflow: Turn[] = [
      {
        tools: [
          {
            name: 'Write',
            input: { file_path: '/workspace/.github/workflows/ci.yml', content: 'on: push\n' }
          }
        ]
      },
      { text: 'Changed the workflow.' }
    ]
    const { run } = await runScenario(touchWorkflow, {
      repo: dir,
      inputs: { publish: 'comment', 'github-token': TOKEN },
      env: {
        GITHUB_REPOSITORY: name,
        GITHUB_API_URL: github.url,
        GITHUB_SERVER_URL: SERVER,
        ...artifacts.env('job-refused-publish')
      },
      event: { name: 'pull_request', payload: github.pullRequestEvent(name, pr.number) }
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.errors.join('\n')).toContain('Refusing to publish')
    const comments = github.comments(name, pr.number)
    expect(comments).toHaveLength(1)
    expect(comments[0]?.body).toContain('Claude Code did not finish')
    expect(comments[0]?.body).toContain('Refusing to publish')
    expect(comments[0]?.body).not.toContain('working…')
    // The artifact went up before publishing was refused: nothing produced is lost.
    expect(run.outputs['artifact-url']).toMatch(/\/artifacts\/\d+$/)
  })

  it('with the artifact service not listening, the run succeeds, warns, and the summary says where the files are', async () => {
    const port = await closedPort()
    const { run } = await runScenario(addNotes, {
      env: {
        ...artifacts.env('job-down'),
        ACTIONS_RESULTS_URL: `http://127.0.0.1:${port}/`,
        GITHUB_SERVER_URL: SERVER
      }
    })
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.outputs.conclusion).toBe('success')
    expect(run.stdout).toMatch(/^::warning::The artifact was not uploaded \(.*ECONNREFUSED/m)
    expect(run.outputs['artifact-id']).toBeUndefined()
    const patchPath = run.outputs['patch-path'] ?? ''
    expect(existsSync(patchPath)).toBe(true)
    expect(run.summary).toContain('Not uploaded as an artifact')
    expect(run.summary).toContain(`- Patch: \`${patchPath}\``)
    expect(run.summary).toContain(`- Transcript: \`${run.outputs['execution-file']}\``)
    expect(run.summary).toContain('+++ b/NOTES.md')
  })

  it('with the artifact service refusing, the run succeeds, warns, and the summary says where the files are', async () => {
    artifacts.options.refuseWith = 403
    try {
      const { run } = await runScenario(addNotes, {
        env: { ...artifacts.env('job-refused'), GITHUB_SERVER_URL: SERVER }
      })
      expect(run.errors).toEqual([])
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toMatch(/^::warning::The artifact was not uploaded \(.*403/m)
      expect(run.summary).toContain('Not uploaded as an artifact')
      expect(run.summary).toContain(`- Patch: \`${run.outputs['patch-path']}\``)
    } finally {
      artifacts.options.refuseWith = undefined
    }
  })
})
