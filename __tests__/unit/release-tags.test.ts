// scripts/release-tags.sh against a real local bare repository standing in for GitHub's: the
// release commit records the image, the version tag and the major tag point at it, the default
// branch is left alone, and the refusals (a tag pointing elsewhere, a major tag that would move
// backwards, a record that is not a release) push nothing.
import { afterEach, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from '../helpers/run-action.js'

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'release-tags.sh')
const PLACEHOLDER = `${JSON.stringify(
  {
    repository: 'ghcr.io/org/claude-sandbox-action/agent',
    version: '0.0.0',
    sourceDigest: '',
    platforms: {}
  },
  null,
  2
)}\n`
const dirs: string[] = []

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=test',
      '-c',
      'user.email=test@example.com',
      '-c',
      'tag.gpgSign=false',
      ...args
    ],
    { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }
  ).trim()
}

/** A bare "origin" with main (one commit holding the placeholder record) and a checkout of it. */
function setUp(): { origin: string; work: string; built: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'release-tags-'))
  dirs.push(root)
  const origin = path.join(root, 'origin.git')
  const work = path.join(root, 'work')
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', origin])
  mkdirSync(path.join(work, 'docker'), { recursive: true })
  git(work, 'init', '-q', '-b', 'main')
  writeFileSync(path.join(work, 'docker', 'prebuilt.json'), PLACEHOLDER)
  writeFileSync(path.join(work, 'docker', 'Dockerfile.agent'), 'FROM scratch\n')
  git(work, 'add', '-A')
  git(work, 'commit', '-q', '-m', 'the tree to release')
  git(work, 'remote', 'add', 'origin', origin)
  git(work, 'push', '-q', 'origin', 'main')
  return { origin, work, built: git(work, 'rev-parse', 'HEAD') }
}

function recordFile(dir: string, version: string, platforms?: Record<string, string>): string {
  const file = path.join(dir, '..', `record-${version}-${platforms ? 'given' : 'both'}.json`)
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        repository: 'ghcr.io/org/claude-sandbox-action/agent',
        version,
        sourceDigest: `sha256:${'a'.repeat(64)}`,
        platforms: platforms ?? {
          'linux/amd64': `sha256:${'1'.repeat(64)}`,
          'linux/arm64': `sha256:${'2'.repeat(64)}`
        }
      },
      null,
      2
    )}\n`
  )
  return file
}

function release(work: string, version: string, record: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync('bash', [SCRIPT, version, record, 'origin'], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, GITHUB_OUTPUT: '', ...env }
  })
}

/** The commit a tag in `origin` points at (peeled), or '' when there is none. */
function tagCommit(origin: string, tag: string): string {
  const result = spawnSync(
    'git',
    ['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`],
    {
      cwd: origin,
      encoding: 'utf8'
    }
  )
  return result.stdout.trim()
}

describe('scripts/release-tags.sh', () => {
  it('commits the record on top of the built commit, tags it and moves the major tag', () => {
    const { origin, work, built } = setUp()
    const record = recordFile(work, '1.2.3')
    const result = release(work, 'v1.2.3', record)
    expect([result.status, result.stderr]).toEqual([0, ''])

    const released = tagCommit(origin, 'v1.2.3')
    expect(released).not.toBe('')
    expect(released).not.toBe(built)
    expect(tagCommit(origin, 'v1')).toBe(released)
    expect(git(origin, 'rev-parse', `${released}^`)).toBe(built)
    // The released tree's record is the release's; nothing else changed.
    expect(git(origin, 'show', `${released}:docker/prebuilt.json`)).toBe(
      readFileSync(record, 'utf8').trim()
    )
    expect(git(origin, 'diff', '--name-only', built, released)).toBe('docker/prebuilt.json')
    // The version tag is annotated; the default branch still has the placeholder.
    expect(git(origin, 'cat-file', '-t', 'refs/tags/v1.2.3')).toBe('tag')
    expect(git(origin, 'rev-parse', 'refs/heads/main')).toBe(built)
    expect(git(origin, 'show', 'main:docker/prebuilt.json')).toBe(PLACEHOLDER.trim())
    expect(git(origin, 'log', '-1', '--format=%s', released)).toBe(
      'Release v1.2.3: record the agent image digests'
    )
  })

  it('moves a version tag a person pushed (the release’s trigger) from the built commit to the release commit', () => {
    const { origin, work, built } = setUp()
    git(work, 'tag', '-a', 'v2.0.0', '-m', 'v2.0.0')
    git(work, 'push', '-q', 'origin', 'v2.0.0')
    expect(tagCommit(origin, 'v2.0.0')).toBe(built)
    const result = release(work, '2.0.0', recordFile(work, '2.0.0'))
    expect(result.status).toBe(0)
    const released = tagCommit(origin, 'v2.0.0')
    expect(git(origin, 'rev-parse', `${released}^`)).toBe(built)
    expect(tagCommit(origin, 'v2')).toBe(released)
  })

  it('a rerun after the tags were pushed changes nothing', () => {
    const { origin, work, built } = setUp()
    const record = recordFile(work, '1.0.0')
    expect(release(work, '1.0.0', record).status).toBe(0)
    const released = tagCommit(origin, 'v1.0.0')
    git(work, 'checkout', '-q', '--detach', built)
    const again = release(work, '1.0.0', record)
    expect([again.status, again.stdout]).toEqual([0, expect.stringContaining('nothing to do')])
    expect(tagCommit(origin, 'v1.0.0')).toBe(released)
  })

  it('refuses a version tag that points at another commit, and pushes nothing', () => {
    const { origin, work, built } = setUp()
    writeFileSync(path.join(work, 'other.txt'), 'x\n')
    git(work, 'add', '-A')
    git(work, 'commit', '-q', '-m', 'another commit')
    git(work, 'tag', 'v1.5.0')
    git(work, 'push', '-q', 'origin', 'v1.5.0')
    const other = tagCommit(origin, 'v1.5.0')
    git(work, 'checkout', '-q', '--detach', built)
    const result = release(work, '1.5.0', recordFile(work, '1.5.0'))
    expect(result.status).toBe(1)
    expect(result.stdout).toMatch(
      /^::error::tag v1\.5\.0 already exists at \w+, not at the built commit/m
    )
    expect(tagCommit(origin, 'v1.5.0')).toBe(other)
    expect(tagCommit(origin, 'v1')).toBe('')
  })

  it('leaves the major tag on a higher release of that major', () => {
    const { origin, work, built } = setUp()
    expect(release(work, '1.3.0', recordFile(work, '1.3.0')).status).toBe(0)
    const v130 = tagCommit(origin, 'v1.3.0')
    git(work, 'checkout', '-q', '--detach', built)
    const fix = release(work, '1.2.9', recordFile(work, '1.2.9'))
    expect(fix.status).toBe(0)
    expect(fix.stdout).toContain('::notice::v1 stays where it is: v1.3.0 is a higher release')
    expect(tagCommit(origin, 'v1.2.9')).not.toBe('')
    expect(tagCommit(origin, 'v1')).toBe(v130)
    // 1.10.0 sorts above 1.3.0 as a version, not as text.
    git(work, 'checkout', '-q', '--detach', built)
    expect(release(work, '1.10.0', recordFile(work, '1.10.0')).status).toBe(0)
    expect(tagCommit(origin, 'v1')).toBe(tagCommit(origin, 'v1.10.0'))
  })

  it('refuses a bad version, a placeholder record and a record of another version', () => {
    const { origin, work } = setUp()
    const cases: Array<[string, string, RegExp]> = [
      ['1.2', recordFile(work, '1.2.0'), /MAJOR\.MINOR\.PATCH/],
      ['1.2.0', recordFile(work, '1.2.0', {}), /not a released record/],
      ['1.2.1', recordFile(work, '1.2.0'), /records version 1\.2\.0, not 1\.2\.1/]
    ]
    for (const [version, record, message] of cases) {
      const result = release(work, version, record)
      expect([version, result.status]).toEqual([version, 1])
      expect(result.stdout).toMatch(message)
    }
    expect(git(origin, 'tag', '--list')).toBe('')
  })

  it('RELEASE_DRY_RUN=1 makes the tags locally and pushes nothing', () => {
    const { origin, work } = setUp()
    const result = release(work, '3.1.4', recordFile(work, '3.1.4'), { RELEASE_DRY_RUN: '1' })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain('dry run: would push refs/tags/v3.1.4 refs/tags/v3')
    expect(git(work, 'rev-parse', 'v3^{commit}')).toBe(git(work, 'rev-parse', 'HEAD'))
    expect(git(origin, 'tag', '--list')).toBe('')
  })
})
