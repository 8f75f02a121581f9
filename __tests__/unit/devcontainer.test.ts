import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../../src/errors.js'
import { devcontainerImage, readDevcontainerImage } from '../../src/image/devcontainer.js'

describe('devcontainerImage (JSONC)', () => {
  it('reads `image` through comments and trailing commas', () => {
    const text =
      '// top\n{\n  /* block */ "image": "node:22-bookworm", // why\n  "forwardPorts": [3000,],\n}\n'
    expect(devcontainerImage(text, 'x')).toBe('node:22-bookworm')
  })

  it.each([
    ['no image', '{ "name": "x" }', /has no `image`/],
    [
      'a Dockerfile build',
      '{ "build": { "dockerfile": "Dockerfile" } }',
      /builds its image \(`build`\)/
    ],
    ['a legacy dockerFile', '{ "dockerFile": "Dockerfile", "image": "a" }', /`dockerFile`/],
    ['compose', '{ "dockerComposeFile": "c.yml", "service": "a" }', /`dockerComposeFile`/],
    [
      'features',
      '{ "image": "a", "features": { "ghcr.io/x/node:1": {} } }',
      /uses devcontainer features/
    ],
    [
      'broken JSON',
      '{ "image": "a" "name": 1 }',
      /not valid JSON with comments \(CommaExpected at line 1\)/
    ],
    ['an array', '[]', /does not hold a JSON object/]
  ])('refuses %s with what is supported', (_what, text, pattern) => {
    let error: unknown
    try {
      devcontainerImage(text, '.devcontainer/devcontainer.json')
    } catch (caught: unknown) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).message).toMatch(pattern)
  })

  it('accepts an empty features object', () => {
    expect(devcontainerImage('{ "image": "a:1", "features": {} }', 'x')).toBe('a:1')
  })
})

describe('readDevcontainerImage (from the commit, never the working tree)', () => {
  let repo: string
  let baseSha: string
  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: repo,
      encoding: 'utf8'
    }).trim()
  const write = (image: string): void =>
    writeFileSync(
      path.join(repo, '.devcontainer', 'devcontainer.json'),
      `{ "image": "${image}", }\n`
    )

  beforeAll(() => {
    repo = mkdtempSync(path.join(os.tmpdir(), 'unit-devcontainer-'))
    mkdirSync(path.join(repo, '.devcontainer'))
    git('init', '-q', '-b', 'main')
    write('base:1')
    git('add', '-A')
    git('commit', '-q', '-m', 'base')
    baseSha = git('rev-parse', 'HEAD')
    // The pull request's head chooses another image ...
    write('attacker:1')
    git('commit', '-qam', 'head')
    // ... and the working tree yet another.
    write('worktree:1')
  })
  afterAll(() => rmSync(repo, { recursive: true, force: true }))

  it("on a pull request, reads the base branch's file", async () => {
    expect(await readDevcontainerImage(repo, baseSha)).toBe('base:1')
  })

  it('otherwise reads HEAD, not the working tree', async () => {
    expect(await readDevcontainerImage(repo)).toBe('attacker:1')
  })

  it('explains a commit without a devcontainer.json', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'unit-devcontainer-empty-'))
    try {
      execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: empty })
      execFileSync(
        'git',
        [
          '-c',
          'user.name=t',
          '-c',
          'user.email=t@example.com',
          'commit',
          '-q',
          '--allow-empty',
          '-m',
          'x'
        ],
        { cwd: empty }
      )
      await expect(readDevcontainerImage(empty)).rejects.toThrow(
        /base-image is `devcontainer`, but the checked-out commit has no \.devcontainer\/devcontainer\.json or \.devcontainer\.json/
      )
    } finally {
      rmSync(empty, { recursive: true, force: true })
    }
  })
})
