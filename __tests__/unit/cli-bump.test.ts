// scripts/cli-bump.ts: which registry release is a bump, and the edits, applied to a copy of this
// repository's own files (so a default that moved, or a new place naming it, fails here first).
import { afterEach, describe, expect, it } from '@jest/globals'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  applyBump,
  BUMP_SITES,
  bumpTarget,
  compareVersions,
  currentVersion,
  FIXTURE_READER,
  RANGE_FILE,
  FIXTURES_DIR,
  fixtureName,
  pullRequestBody
} from '../../scripts/cli-bump.js'
import { SUPPORTED_CLI_VERSIONS } from '../../src/agent/cli-versions.js'
import { DEFAULT_CLAUDE_CODE_VERSION } from '../../src/constants.js'
import { REPO_ROOT } from '../helpers/run-action.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A copy of the files BUMP_SITES edits. */
function copyOfRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-bump-'))
  dirs.push(dir)
  const files = [
    ...BUMP_SITES.map(site => site.file),
    FIXTURE_READER,
    RANGE_FILE,
    `${FIXTURES_DIR}/${fixtureName(DEFAULT_CLAUDE_CODE_VERSION)}`,
    `${FIXTURES_DIR}/${fixtureName(SUPPORTED_CLI_VERSIONS.oldest)}`
  ]
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    cpSync(path.join(REPO_ROOT, file), path.join(dir, file))
  }
  return dir
}

/** `a` -> `b` patch version of the pinned default. */
function next(version: string, part: 0 | 1 | 2 = 2): string {
  const parts = version.split('.').map(Number)
  parts[part] = (parts[part] ?? 0) + 1
  for (let i = part + 1; i < 3; i++) parts[i] = 0
  return parts.join('.')
}

describe('version comparison', () => {
  it('compares numerically, part by part', () => {
    expect(compareVersions('2.1.330', '2.1.330')).toBe(0)
    expect(compareVersions('2.1.331', '2.1.330')).toBeGreaterThan(0)
    expect(compareVersions('2.1.99', '2.1.330')).toBeLessThan(0)
    expect(compareVersions('2.10.0', '2.9.999')).toBeGreaterThan(0)
    expect(compareVersions('3.0.0', '2.99.99')).toBeGreaterThan(0)
    expect(() => compareVersions('2.1', '2.1.0')).toThrow(/not an exact version: "2.1"/)
  })

  it('bumps only to a newer exact release', () => {
    expect(bumpTarget('2.1.330', '2.1.331')).toBe('2.1.331')
    expect(bumpTarget('2.1.330', '2.2.0')).toBe('2.2.0')
    expect(bumpTarget('2.1.330', '2.1.330')).toBeUndefined()
    // `latest` moved back (a yanked release): no downgrade.
    expect(bumpTarget('2.1.330', '2.1.329')).toBeUndefined()
    expect(bumpTarget('2.1.330', '2.2.0-beta.1')).toBeUndefined()
    expect(bumpTarget('2.1.330', '')).toBeUndefined()
    expect(bumpTarget('2.1.330', undefined)).toBeUndefined()
  })
})

describe('applyBump on this repository’s files', () => {
  it('finds the pinned default where the action reads it', () => {
    expect(currentVersion(REPO_ROOT)).toBe(DEFAULT_CLAUDE_CODE_VERSION)
  })

  it('rewrites every site from the pinned version to the new one, and nothing else', () => {
    const dir = copyOfRepository()
    const from = DEFAULT_CLAUDE_CODE_VERSION
    const to = next(from)
    const before = Object.fromEntries(
      BUMP_SITES.map(site => [site.file, readFileSync(path.join(dir, site.file), 'utf8')])
    )
    const result = applyBump(dir, to)
    expect(result.from).toBe(from)
    expect(result.edits.map(edit => edit.file)).toEqual(BUMP_SITES.map(site => site.file))
    for (const site of BUMP_SITES) {
      const after = readFileSync(path.join(dir, site.file), 'utf8')
      // Exactly one line changed, and only its version.
      const changed = (before[site.file] ?? '')
        .split('\n')
        .map((line, i) => [line, after.split('\n')[i]] as const)
        .filter(([a, b]) => a !== b)
      expect([site.file, changed.length]).toEqual([site.file, 1])
      const [oldLine, newLine] = changed[0] ?? ['', '']
      expect(newLine).toBe(oldLine.replace(from, to))
    }
    expect(currentVersion(dir)).toBe(to)
    // src/constants.ts is what the action reads: the new default, read back.
    expect(readFileSync(path.join(dir, 'src/constants.ts'), 'utf8')).toContain(
      `DEFAULT_CLAUDE_CODE_VERSION = '${to}'`
    )
  })

  it('refuses a version that is not newer, and a site that disagrees, changing nothing', () => {
    const dir = copyOfRepository()
    const from = DEFAULT_CLAUDE_CODE_VERSION
    expect(() => applyBump(dir, from)).toThrow(`${from} is not newer than the pinned ${from}`)
    expect(() => applyBump(dir, 'latest')).toThrow(/exact version/)

    const readme = path.join(dir, 'README.md')
    writeFileSync(readme, readFileSync(readme, 'utf8').replace(`| \`${from}\` |`, '| `9.9.9` |'))
    const snapshot = readFileSync(path.join(dir, 'action.yml'), 'utf8')
    expect(() => applyBump(dir, next(from, 1))).toThrow(
      `README.md: the README’s inputs table is 9.9.9, not the pinned ${from}`
    )
    expect(readFileSync(path.join(dir, 'action.yml'), 'utf8')).toBe(snapshot)

    writeFileSync(readme, '# nothing here\n')
    expect(() => applyBump(dir, next(from, 1))).toThrow(
      /README\.md: the README’s inputs table not found \(update BUMP_SITES/
    )
  })

  it('says in the pull request what was tested and what a person still has to do', () => {
    const body = pullRequestBody('2.1.330', '2.1.331')
    expect(body).toContain('from 2.1.330 to 2.1.331')
    expect(body).toContain('end-to-end tests passed')
    expect(body).toContain(
      'recorded again with\n2.1.331 (`__tests__/fixtures/cli-requests-2.1.331.json`'
    )
  })

  it('with a new recording, adds it beside the others, drops the old default’s and widens the range', () => {
    const dir = copyOfRepository()
    const from = DEFAULT_CLAUDE_CODE_VERSION
    const to = next(next(SUPPORTED_CLI_VERSIONS.newest))
    const recording = `${JSON.stringify({ '//': 'new', requests: [{ run: 'key-default' }] })}\n`
    applyBump(dir, to, recording)
    expect(readFileSync(path.join(dir, FIXTURES_DIR, fixtureName(to)), 'utf8')).toBe(recording)
    expect(existsSync(path.join(dir, FIXTURES_DIR, fixtureName(from)))).toBe(false)
    // The range's oldest end keeps its recording: CI tests both ends.
    expect(
      existsSync(path.join(dir, FIXTURES_DIR, fixtureName(SUPPORTED_CLI_VERSIONS.oldest)))
    ).toBe(true)
    expect(readFileSync(path.join(dir, RANGE_FILE), 'utf8')).toContain(`newest: '${to}'`)
  })

  it('refuses an empty recording, or a policy test that reads no recordings, changing nothing', () => {
    const dir = copyOfRepository()
    const from = DEFAULT_CLAUDE_CODE_VERSION
    expect(() => applyBump(dir, next(from), '{"requests":[]}')).toThrow(/no requests/)
    const reader = path.join(dir, FIXTURE_READER)
    writeFileSync(reader, readFileSync(reader, 'utf8').split('cli-requests-').join('other-'))
    expect(() => applyBump(dir, next(from), '{"requests":[{}]}')).toThrow(
      `${FIXTURE_READER} does not read the recorded requests`
    )
    expect(currentVersion(dir)).toBe(from)
    expect(existsSync(path.join(dir, FIXTURES_DIR, fixtureName(from)))).toBe(true)
  })
})
