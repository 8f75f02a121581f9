/**
 * Issue 20 through dist/, the real CLI in the real container: the agent side never holds a
 * credential. A scripted agent reads the git config and the credential files steps before ours
 * left in the working tree and finds nothing; what it writes holding a secret is refused as a
 * commit and redacted from the comment, the summary and the outputs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FakeGitHub, WRITE_ALL } from '../servers/fake-github.js'
import { git, leftoverContainers, makeRepo, runScenario } from '../helpers/e2e.js'
import { fake, fakeChars } from '../helpers/fake-secrets.js'
import type { Turn } from '../servers/fake-anthropic.js'

const cleanup: string[] = []
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true })
})

/** The text of every tool result the CLI sent back to the model, in order. */
function toolResults(body: unknown): string[] {
  const messages = (body as { messages?: Array<{ content?: unknown }> }).messages ?? []
  const texts: string[] = []
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue
    for (const block of message.content as Array<Record<string, unknown>>) {
      if (block.type !== 'tool_result') continue
      const content = block.content
      texts.push(
        typeof content === 'string'
          ? content
          : Array.isArray(content)
            ? content.map(part => String((part as { text?: unknown }).text ?? '')).join('')
            : ''
      )
    }
  }
  return texts
}

const bash = (command: string): Turn => ({
  tools: [{ name: 'Bash', input: { command, description: 'probe' } }]
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  chmodSync(dir, 0o755)
  cleanup.push(dir)
  return dir
}

/** Every form in which a token must not be seen inside: raw, and base64 of checkout's header. */
function forms(token: string): string[] {
  return [token, Buffer.from(`x-access-token:${token}`).toString('base64')]
}

/** The scripted agent's probe of the git config and of git itself. */
function probe(gitDirCommand: string): string {
  return [
    'cd /workspace',
    'echo "== config"; cat "$(git rev-parse --git-common-dir)/config"',
    'echo "== list"; git config --list --show-origin',
    `echo "== grep"; grep -r -l -i -e extraheader -e x-access-token -e "credential" -e "@github" ${gitDirCommand} 2>/dev/null; echo "grep-exit=$?"`,
    'echo "agent line" >> README.md',
    'echo "== status"; git status --short',
    'echo "== log"; git log --oneline',
    'echo "== diff"; git diff --stat'
  ].join('\n')
}

/** Leaves the repository's config as checkout v4/v5 and v6 and scripts do. */
function persistCredentials(repo: string, gitDir: string, tokens: string[]): string {
  const [header, url, insteadOf, included] = tokens as [string, string, string, string]
  const basic = Buffer.from(`x-access-token:${header}`).toString('base64')
  git(repo, 'config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${basic}`)
  git(repo, 'config', 'remote.origin.url', `https://x-access-token:${url}@github.com/o/r.git`)
  git(
    repo,
    'config',
    `url.https://x-access-token:${insteadOf}@github.com/.insteadOf`,
    'https://github.com/'
  )
  const runnerTemp = tempDir('e2e-runner-temp-')
  const credentials = path.join(runnerTemp, 'git-credentials-0123.config')
  const includedBasic = Buffer.from(`x-access-token:${included}`).toString('base64')
  writeFileSync(
    credentials,
    `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${includedBasic}\n`
  )
  git(repo, 'config', `includeIf.gitdir:${gitDir}.path`, credentials)
  return path.join(gitDir, 'config')
}

function expectNoToken(texts: string[], tokens: string[]): void {
  const all = texts.join('\n')
  for (const token of tokens) for (const form of forms(token)) expect(all).not.toContain(form)
}

describe('the git config inside the sandbox', () => {
  it('holds no token as checkout v4/v5/v6 and scripts leave them; git works; the host config is untouched', async () => {
    const repo = makeRepo()
    cleanup.push(repo)
    const tokens = [1, 2, 3, 4].map(seed => fake.githubActionsToken(100 + seed))
    const configFile = persistCredentials(repo, path.join(repo, '.git'), tokens)
    const before = readFileSync(configFile)
    const { run, api } = await runScenario([bash(probe('.git')), { text: 'Probed.' }], { repo })
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const [out = ''] = toolResults(api.mainRequests().at(-1)?.body)
    expectNoToken([out], tokens)
    expect(out).toContain('grep-exit=1') // nothing in .git names a credential
    expect(out).toContain('remote.origin.url=https://github.com/o/r.git')
    expect(out).not.toMatch(/includeif/i)
    expect(out).toMatch(/== status\n M README.md/)
    expect(out).toMatch(/== log\n[0-9a-f]+ initial/)
    expect(out).toMatch(/README.md \| 1 \+/)
    // The host's own config is byte-identical: later steps push with it.
    expect(readFileSync(configFile).equals(before)).toBe(true)
    expect(leftoverContainers()).toEqual([])
  })

  it('a worktree checkout (.git is a file): the same, with git working inside', async () => {
    const main = makeRepo()
    cleanup.push(main)
    const worktree = path.join(tempDir('e2e-worktree-'), 'wt')
    git(main, 'worktree', 'add', '-q', '-b', 'wt', worktree)
    const tokens = [1, 2, 3, 4].map(seed => fake.githubActionsToken(200 + seed))
    const configFile = persistCredentials(main, path.join(main, '.git'), tokens)
    const before = readFileSync(configFile)
    const { run, api } = await runScenario(
      [bash(probe('"$(git rev-parse --git-common-dir)"')), { text: 'Probed.' }],
      { repo: worktree }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const [out = ''] = toolResults(api.mainRequests().at(-1)?.body)
    expectNoToken([out], tokens)
    expect(out).toContain('grep-exit=1')
    expect(out).toMatch(/== status\n M README.md/)
    expect(out).toMatch(/== log\n[0-9a-f]+ initial/)
    expect(readFileSync(configFile).equals(before)).toBe(true)
    // The agent's change is collected from the worktree as usual.
    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).toContain('+agent line')
  })
})

describe('credential files in the working tree', () => {
  it('gha-creds-*.json and an .npmrc with _authToken: unreadable inside, not in the patch, the run succeeds', async () => {
    const npmToken = fake.npmToken(301)
    const bearer = fakeChars(302, 48)
    const repo = makeRepo()
    cleanup.push(repo)
    const files: Record<string, string> = {
      'gha-creds-x.json': JSON.stringify({
        type: 'external_account',
        credential_source: { headers: { Authorization: `bearer ${bearer}` } }
      }),
      '.npmrc': `//registry.example.com/:_authToken=${npmToken}\n`
    }
    for (const [name, content] of Object.entries(files))
      writeFileSync(path.join(repo, name), content)
    const { run, api } = await runScenario(
      [
        bash(
          [
            'cd /workspace',
            'echo "== read"; cat gha-creds-x.json .npmrc; wc -c gha-creds-x.json .npmrc',
            'echo "== write"; echo "//r/:_authToken=mine" >> .npmrc 2>&1; echo "write-exit=$?"',
            'rm -f gha-creds-x.json 2>&1; echo "rm-exit=$?"',
            'echo "== copy"; cp .npmrc npmrc-copy; echo ok > NOTES.md'
          ].join('\n')
        ),
        { text: 'Tried the credential files.' }
      ],
      { repo }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const [out = ''] = toolResults(api.mainRequests().at(-1)?.body)
    expect(out).not.toContain(npmToken)
    expect(out).not.toContain(bearer)
    expect(out).toMatch(/0 gha-creds-x.json\n\s*0 .npmrc/)
    expect(out).not.toContain('write-exit=0')
    expect(out).not.toContain('rm-exit=0')
    const patch = readFileSync(run.outputs['patch-path'] ?? '', 'utf8')
    expect(patch).toContain('NOTES.md')
    expect(patch).not.toContain('gha-creds')
    expect(patch).not.toContain('b/.npmrc')
    expect(patch).not.toContain(npmToken)
    // The files are the job's: still there, as they were.
    for (const [name, content] of Object.entries(files)) {
      expect(readFileSync(path.join(repo, name), 'utf8')).toBe(content)
    }
  })
})

describe('the secret scan before publishing', () => {
  const REPO = 'octo-org/secret-repo'
  const TOKEN = 'ghs_e2e_secret_scan_token_000000000000'
  let github: FakeGitHub
  let count = 0
  beforeAll(async () => {
    github = await FakeGitHub.start()
  })
  afterAll(async () => {
    await github.stop()
  })
  afterEach(() => {
    expect(github.validationFailures).toEqual([])
  })

  async function pullRequestRepository(): Promise<{
    dir: string
    name: string
    number: number
    event: { name: string; payload: Record<string, unknown> }
    env: Record<string, string>
  }> {
    const dir = makeRepo()
    cleanup.push(dir)
    git(dir, 'checkout', '-q', '-b', 'feature')
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'feature work')
    const name = `${REPO}-${++count}`
    github.addRepo(name, { defaultBranch: 'main' })
    github.addToken(TOKEN, WRITE_ALL)
    await github.seedFromGit(name, dir, { main: 'main', feature: 'feature' })
    const pr = github.addPullRequest(name, { headRef: 'feature' })
    return {
      dir,
      name,
      number: pr.number,
      event: { name: 'pull_request', payload: github.pullRequestEvent(name, pr.number) },
      env: {
        GITHUB_REPOSITORY: name,
        GITHUB_API_URL: github.url,
        GITHUB_SERVER_URL: github.serverUrl
      }
    }
  }

  const deployToken = fakeChars(401, 40)
  const pat = fake.githubPat(402)
  const aws = fake.awsAccessKeyId(403)
  const leaky: Turn[] = [
    bash(
      [
        'cd /workspace',
        'printf "TOKEN=%s\\n" "$DEPLOY_TOKEN" > deploy.env',
        `printf "const gh = '${pat}'\\nconst aws = '${aws}'\\n" > src/keys.ts`
      ].join('\n')
    ),
    { text: `Done. The deploy token is ${deployToken} and the PAT is ${pat}.` }
  ]
  const secretsIn = (text: string): string[] =>
    [deployToken, pat, aws].filter(secret => text.includes(secret))

  it('publish: commit is refused naming the files and rules; nothing is pushed; summary and final-message redacted', async () => {
    const repo = await pullRequestRepository()
    const before = github.ref(repo.name, 'feature')
    const writesBefore = github.writes().length
    const { run } = await runScenario(leaky, {
      repo: repo.dir,
      inputs: { publish: 'commit', 'github-token': TOKEN, env: `DEPLOY_TOKEN=${deployToken}` },
      env: repo.env,
      event: repo.event
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.errors).toHaveLength(1)
    const error = run.errors[0] ?? ''
    expect(error).toContain('Refusing to publish')
    expect(error).toContain('deploy.env:1 (known:env:DEPLOY_TOKEN')
    expect(error).toContain('src/keys.ts:1 (github-pat')
    expect(error).toContain('src/keys.ts:2 (aws-access-token')
    expect(secretsIn(error)).toEqual([])
    expect(github.ref(repo.name, 'feature')).toBe(before)
    expect(github.writes().length).toBe(writesBefore)
    expect(run.outputs['final-message']).toContain('[REDACTED:env:DEPLOY_TOKEN]')
    expect(run.outputs['final-message']).toContain('[REDACTED:github-pat]')
    expect(secretsIn(run.outputs['final-message'] ?? '')).toEqual([])
    expect(run.summary).toContain('Refusing to publish')
    expect(secretsIn(run.summary)).toEqual([])
    // The patch is kept for the maintainer, marked.
    const patchPath = run.outputs['patch-path'] ?? ''
    expect(readFileSync(patchPath, 'utf8')).toContain(pat)
    expect(existsSync(`${patchPath}.secret-scan.txt`)).toBe(true)
    expect(readFileSync(`${patchPath}.secret-scan.txt`, 'utf8')).toContain(
      'src/keys.ts:1 (github-pat'
    )
  })

  it('publish: comment posts the comment with the values redacted', async () => {
    const repo = await pullRequestRepository()
    const { run } = await runScenario(leaky, {
      repo: repo.dir,
      inputs: { publish: 'comment', 'github-token': TOKEN, env: `DEPLOY_TOKEN=${deployToken}` },
      env: repo.env,
      event: repo.event
    })
    expect(run.errors).toEqual([])
    const comments = github.comments(repo.name, repo.number)
    expect(comments).toHaveLength(1)
    const body = comments[0]?.body ?? ''
    expect(body).toContain('src/keys.ts')
    expect(body).toContain('[REDACTED:github-pat]')
    expect(body).toContain('[REDACTED:env:DEPLOY_TOKEN]')
    expect(secretsIn(body)).toEqual([])
    expect(secretsIn(run.summary)).toEqual([])
    expect(secretsIn(run.outputs['final-message'] ?? '')).toEqual([])
  })

  it('a fixture path allowed by secret-scan-allow is committed', async () => {
    const repo = await pullRequestRepository()
    const { run } = await runScenario(
      [
        bash(
          `mkdir -p /workspace/test/fixtures && echo "${aws}" > /workspace/test/fixtures/aws.txt`
        ),
        { text: 'Added a fixture.' }
      ],
      {
        repo: repo.dir,
        inputs: {
          publish: 'commit',
          'github-token': TOKEN,
          'secret-scan-allow': 'test/fixtures/**'
        },
        env: repo.env,
        event: repo.event
      }
    )
    expect(run.errors).toEqual([])
    const sha = run.outputs['commit-sha'] ?? ''
    expect(sha).toBe(github.ref(repo.name, 'feature'))
    expect(github.readTree(sha).get('test/fixtures/aws.txt')?.content?.toString()).toBe(`${aws}\n`)
  })
})
