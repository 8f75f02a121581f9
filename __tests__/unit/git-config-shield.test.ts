import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fake } from '../helpers/fake-secrets.js'
import { shieldGitConfig, stripUserinfo } from '../../src/credentials/git-config-shield.js'
import { credentialValues, findCredentialFiles } from '../../src/credentials/credential-files.js'
import { knownSecrets } from '../../src/secrets/known.js'
import { findKnownSecrets } from '../../src/secrets/scan.js'

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' })

let root: string
let repo: string
let privateDir: string

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'shield-'))
  repo = path.join(root, 'repo')
  privateDir = path.join(root, 'private')
  mkdirSync(repo)
  mkdirSync(privateDir)
  git(repo, 'init', '-q', '-b', 'main')
  git(repo, 'config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*')
  git(repo, 'config', 'branch.main.remote', 'origin')
  git(repo, 'config', 'user.name', 'Someone')
  git(repo, 'config', 'user.email', 'someone@example.com')
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

/** The sanitised copy's entries, as git lists them. */
function sanitisedList(copy: string): string {
  return git(repo, 'config', '--file', copy, '--no-includes', '--list')
}

const token = fake.githubActionsToken(11)
const basic = Buffer.from(`x-access-token:${token}`).toString('base64')

interface Case {
  what: string
  setup: (repo: string) => void
  /** Lines the sanitised copy must not hold (checked as substrings of `--list`). */
  gone: string[]
  /** Lines it must still hold. */
  kept: string[]
}

const cases: Case[] = [
  {
    what: 'checkout v4/v5: the token as http.<url>.extraheader',
    setup: r =>
      git(r, 'config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${basic}`),
    gone: ['extraheader', basic],
    kept: ['branch.main.remote=origin', 'user.name=Someone']
  },
  {
    what: 'a token in the remote URL and push URL',
    setup: r => {
      git(r, 'config', 'remote.origin.url', `https://x-access-token:${token}@github.com/o/r.git`)
      git(r, 'config', 'remote.origin.pushurl', `https://${token}@github.com/o/r.git`)
    },
    gone: [token],
    kept: [
      'remote.origin.url=https://github.com/o/r.git',
      'remote.origin.pushurl=https://github.com/o/r.git',
      'remote.origin.fetch=+refs/heads/*:refs/remotes/origin/*'
    ]
  },
  {
    what: 'a token in url.<base>.insteadOf and pushInsteadOf',
    setup: r => {
      git(
        r,
        'config',
        `url.https://x-access-token:${token}@github.com/.insteadOf`,
        'https://github.com/'
      )
      git(
        r,
        'config',
        `url.https://oauth2:${token}@gitlab.example.com/.pushInsteadOf`,
        'git@gitlab:'
      )
    },
    gone: [token, 'insteadof'],
    kept: ['branch.main.remote=origin']
  },
  {
    what: 'credential helpers and usernames',
    setup: r => {
      git(r, 'config', 'credential.helper', 'store --file /tmp/creds')
      git(r, 'config', 'credential.https://github.com.username', 'bot')
    },
    gone: ['credential.'],
    kept: ['user.name=Someone']
  },
  {
    what: 'a value in a well-known format under any key',
    setup: r => git(r, 'config', 'deploy.token', fake.githubPat(12)),
    gone: ['deploy.token'],
    kept: ['user.name=Someone']
  },
  {
    what: 'an ssh remote, kept as it is',
    setup: r => git(r, 'config', 'remote.origin.url', 'ssh://git@github.com/o/r.git'),
    gone: [],
    kept: ['remote.origin.url=ssh://git@github.com/o/r.git']
  }
]

describe('the git config the agent sees', () => {
  it.each(cases)('$what', async ({ setup, gone, kept }) => {
    setup(repo)
    const original = readFileSync(path.join(repo, '.git/config'))
    const shield = await shieldGitConfig(repo, path.join(repo, '.git'), privateDir)
    expect(shield.overlays.map(o => o.target)).toEqual(['.git/config'])
    const list = sanitisedList(shield.overlays[0]!.source)
    for (const text of gone) expect(list.toLowerCase()).not.toContain(text.toLowerCase())
    for (const line of kept) expect(list).toContain(line)
    // The repository's own file is only read.
    expect(readFileSync(path.join(repo, '.git/config')).equals(original)).toBe(true)
    // The values removed are known to the secret scan.
    if (list !== git(repo, 'config', '--file', '.git/config', '--list')) {
      const text = readFileSync(path.join(repo, '.git/config'), 'utf8')
      if (text.includes(token)) {
        expect(
          findKnownSecrets(`x ${token} y`, knownSecrets(shield.secrets)).length
        ).toBeGreaterThan(0)
      }
    }
  })

  it('checkout v6: an includeIf to a credentials file outside the repository is dropped, and its token known', async () => {
    const outside = path.join(root, 'runner-temp', 'git-credentials-1234.config')
    mkdirSync(path.dirname(outside))
    writeFileSync(
      outside,
      `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${basic}\n`
    )
    writeFileSync(path.join(repo, '.git', 'shared.config'), '[alias]\n\tst = status\n')
    git(repo, 'config', `includeIf.gitdir:${repo}/.git.path`, outside)
    git(repo, 'config', 'include.path', 'shared.config')
    const shield = await shieldGitConfig(repo, path.join(repo, '.git'), privateDir)
    const list = sanitisedList(shield.overlays[0]!.source)
    expect(list).not.toContain(outside)
    expect(list).toContain('include.path=shared.config')
    expect(shield.secrets.map(s => s.value)).toContain(token)
  })

  it('a worktree: its common git directory is mounted read-only with the config sanitised', async () => {
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'first')
    git(repo, 'config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${basic}`)
    const worktree = path.join(root, 'wt')
    git(repo, 'worktree', 'add', '-q', worktree)
    const shield = await shieldGitConfig(worktree, path.join(worktree, '.git'), privateDir)
    const common = path.join(repo, '.git')
    expect(shield.overlays).toContainEqual({ source: common, target: common })
    const config = shield.overlays.find(o => o.target === path.join(common, 'config'))
    expect(config).toBeDefined()
    expect(sanitisedList(config!.source)).not.toContain('extraheader')
  })

  it('a submodule (.git file with a relative gitdir): mounted where the path leads from /workspace, core.worktree dropped', async () => {
    // The layout `git submodule add` leaves: <super>/sub/.git says "gitdir: ../.git/modules/sub".
    const superproject = path.join(root, 'super')
    const sub = path.join(superproject, 'sub')
    const modules = path.join(superproject, '.git', 'modules')
    mkdirSync(modules, { recursive: true })
    mkdirSync(sub)
    git(root, 'init', '-q', '--separate-git-dir', path.join(modules, 'sub'), sub)
    writeFileSync(path.join(sub, '.git'), 'gitdir: ../.git/modules/sub\n')
    const gitDir = path.join(modules, 'sub')
    git(sub, 'config', 'core.worktree', '../../../sub')
    git(sub, 'config', 'remote.origin.url', `https://x-access-token:${token}@github.com/o/sub.git`)
    const shield = await shieldGitConfig(sub, path.join(sub, '.git'), privateDir)
    const inside = path.resolve('/workspace', '../.git/modules/sub')
    expect(shield.overlays).toContainEqual({ source: gitDir, target: gitDir })
    expect(shield.overlays).toContainEqual({ source: gitDir, target: inside })
    const config = shield.overlays.find(o => o.target === path.join(inside, 'config'))
    const list = sanitisedList(config!.source)
    expect(list).not.toContain('core.worktree')
    expect(list).not.toContain(token)
    expect(list).toContain('remote.origin.url=https://github.com/o/sub.git')
  })

  it('strips user:token from URLs and keeps ssh user names', () => {
    expect(stripUserinfo(`https://u:${token}@h/x`)).toEqual({ url: 'https://h/x', secret: token })
    expect(stripUserinfo(`https://${token}@h/x`)).toEqual({ url: 'https://h/x', secret: token })
    // A plain user name is taken out of the URL but is not a secret to look for.
    expect(stripUserinfo('https://github-actions@h/x')).toEqual({ url: 'https://h/x' })
    expect(stripUserinfo('ssh://git@h/x')).toBeUndefined()
    expect(stripUserinfo('https://h/x')).toBeUndefined()
  })
})

describe('credential files in the working tree', () => {
  it('hides untracked credential files that hold a token, and learns their values', async () => {
    const npmToken = fake.npmToken(13)
    const keyJson = JSON.stringify({
      type: 'external_account',
      token_url: 'https://sts.example.com',
      credential_source: { headers: { Authorization: `bearer ${fake.opaque(14, 40)}` } }
    })
    writeFileSync(path.join(repo, 'gha-creds-x.json'), keyJson)
    writeFileSync(path.join(repo, '.npmrc'), `//registry.example.com/:_authToken=${npmToken}\n`)
    mkdirSync(path.join(repo, 'pkg'))
    writeFileSync(path.join(repo, 'pkg', '.npmrc'), 'save-exact=true\n') // no token: left alone
    writeFileSync(
      path.join(repo, '.pypirc'),
      '[pypi]\nusername = __token__\npassword = pypi-abcdefghijklmnop\n'
    )
    writeFileSync(path.join(repo, 'README.md'), 'hello\n')
    const found = await findCredentialFiles(repo)
    expect(found.hidden.map(f => f.path).sort()).toEqual(['.npmrc', '.pypirc', 'gha-creds-x.json'])
    const values = found.secrets.map(s => s.value)
    expect(values).toContain(npmToken)
    expect(values).toContain('pypi-abcdefghijklmnop')
    expect(values).toContain(fake.opaque(14, 40))
  })

  it('leaves a tracked .npmrc visible (the repository history holds it anyway)', async () => {
    writeFileSync(path.join(repo, '.npmrc'), `//r/:_authToken=${fake.npmToken(15)}\n`)
    git(repo, 'add', '.npmrc')
    git(repo, 'commit', '-q', '-m', 'npmrc')
    expect((await findCredentialFiles(repo)).hidden).toEqual([])
  })

  it('reads values from the usual syntaxes, not placeholders', () => {
    expect(credentialValues('//r/:_authToken=${NPM_TOKEN}\n', 'x')).toEqual([])
    const docker = JSON.stringify({
      auths: { r: { auth: Buffer.from('me:s3cretpassw0rd').toString('base64') } }
    })
    expect(credentialValues(docker, 'x').map(v => v.value)).toContain('s3cretpassw0rd')
    expect(
      credentialValues('machine h login me password n3tRcPassw0rd\n', 'x').map(v => v.value)
    ).toEqual(['n3tRcPassw0rd'])
  })
})
