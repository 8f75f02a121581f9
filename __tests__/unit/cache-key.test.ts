import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { cliBinaryPath, cliCacheKey, completeMarker } from '../../src/image/cli-binary.js'
import {
  computeImageCacheKey,
  imageCacheKeyPrefix,
  prebuiltImageCacheKey,
  readContextFiles,
  type ImageKeyIngredients
} from '../../src/image/cache-key.js'

function baseIngredients(): ImageKeyIngredients {
  return {
    os: 'Linux',
    arch: 'X64',
    dockerfileContent: 'FROM debian\nRUN true\n',
    contextFiles: [
      { path: 'agent-entrypoint.sh', content: Buffer.from('#!/bin/sh\nexec "$@"\n') },
      { path: 'sandbox-ca.pem', content: Buffer.from('') }
    ],
    buildArgs: { BASE_IMAGE: 'debian:12.12-slim', CLAUDE_CODE_VERSION: '2.1.330' },
    extraPackages: ['make', 'gcc'],
    claudeCodeVersion: '2.1.330',
    caBundleSha256: '',
    baseImageRefs: ['node:22.20.0-bookworm-slim', 'debian:12.12-slim'],
    baseImageDigests: [`debian:12.12-slim@sha256:${'a'.repeat(64)}`]
  }
}

const baseKey = computeImageCacheKey(baseIngredients())

/** Each ingredient, changed in one small way. */
const changes: Array<[string, (i: ImageKeyIngredients) => void]> = [
  ['os', i => void (i.os = 'macOS')],
  ['arch', i => void (i.arch = 'ARM64')],
  ['dockerfileContent', i => void (i.dockerfileContent = 'FROM debian\nRUN true \n')],
  [
    'dockerfileContent as a Buffer of other bytes',
    i => void (i.dockerfileContent = Buffer.from('FROM debian\nRUN false\n'))
  ],
  [
    'a context file content',
    i => void (i.contextFiles[0] = { ...i.contextFiles[0]!, content: Buffer.from('#!/bin/sh\n') })
  ],
  [
    'a context file path',
    i => void (i.contextFiles[1] = { ...i.contextFiles[1]!, path: 'other-ca.pem' })
  ],
  [
    'a context file mode',
    i => void (i.contextFiles[0] = { ...i.contextFiles[0]!, mode: 0o100755 })
  ],
  ['an added context file', i => void i.contextFiles.push({ path: 'x', content: Buffer.from('') })],
  ['a removed context file', i => void i.contextFiles.pop()],
  ['a build arg value', i => void (i.buildArgs['BASE_IMAGE'] = 'debian:12.13-slim')],
  ['a build arg name', i => void (i.buildArgs = { BASE_IMAGEX: 'debian:12.12-slim' })],
  ['an added build arg', i => void (i.buildArgs['EXTRA_PACKAGES'] = '')],
  ['extraPackages', i => void i.extraPackages.push('jq')],
  ['claudeCodeVersion', i => void (i.claudeCodeVersion = '2.1.331')],
  ['caBundleSha256', i => void (i.caBundleSha256 = 'ab'.repeat(32))],
  ['baseImageRefs', i => void (i.baseImageRefs[1] = 'debian:12.13-slim')],
  ['baseImageRefs order (they name different stages)', i => void i.baseImageRefs.reverse()],
  [
    'baseImageDigests (the base moved)',
    i => void (i.baseImageDigests = [`debian:12.12-slim@sha256:${'b'.repeat(64)}`])
  ]
]

describe('computeImageCacheKey', () => {
  it('has the documented shape and is a valid cache key', () => {
    expect(baseKey).toMatch(
      /^claude-sandbox-image-v3-Linux-X64-2\.1\.330-[0-9a-f]{32}-[0-9a-f]{12}$/
    )
    expect(baseKey).not.toContain(',')
    expect(baseKey.length).toBeLessThanOrEqual(512)
  })

  it('gives identical keys for identical inputs', () => {
    expect(computeImageCacheKey(baseIngredients())).toBe(baseKey)
    const asBuffer = {
      ...baseIngredients(),
      dockerfileContent: Buffer.from('FROM debian\nRUN true\n')
    }
    expect(computeImageCacheKey(asBuffer)).toBe(baseKey)
  })

  it.each(changes)('changes when %s changes', (_name, change) => {
    const ingredients = baseIngredients()
    change(ingredients)
    expect(computeImageCacheKey(ingredients)).not.toBe(baseKey)
  })

  it('gives distinct keys for every single change', () => {
    const keys = changes.map(([, change]) => {
      const ingredients = baseIngredients()
      change(ingredients)
      return computeImageCacheKey(ingredients)
    })
    expect(new Set([baseKey, ...keys]).size).toBe(keys.length + 1)
  })

  it('does not depend on the order of build args, context files or extra packages', () => {
    const reordered = baseIngredients()
    reordered.buildArgs = { CLAUDE_CODE_VERSION: '2.1.330', BASE_IMAGE: 'debian:12.12-slim' }
    reordered.contextFiles.reverse()
    reordered.extraPackages = ['gcc', 'make', 'gcc']
    expect(Object.keys(reordered.buildArgs)[0]).toBe('CLAUDE_CODE_VERSION')
    expect(computeImageCacheKey(reordered)).toBe(baseKey)
  })

  it('cannot be fooled by moving text between neighbouring fields', () => {
    const a = { ...baseIngredients(), buildArgs: { A: 'b=c' } }
    const b = { ...baseIngredients(), buildArgs: { 'A=b': 'c' } }
    expect(computeImageCacheKey(a)).not.toBe(computeImageCacheKey(b))
    const c = { ...baseIngredients(), extraPackages: ['ab', 'c'] }
    const d = { ...baseIngredients(), extraPackages: ['a', 'bc'] }
    expect(computeImageCacheKey(c)).not.toBe(computeImageCacheKey(d))
    const e = { ...baseIngredients(), baseImageRefs: ['x', ''] }
    const f = { ...baseIngredients(), baseImageRefs: ['', 'x'] }
    expect(computeImageCacheKey(e)).not.toBe(computeImageCacheKey(f))
  })

  it('keeps commas and other odd characters out of the readable part of the key', () => {
    const odd = { ...baseIngredients(), os: 'Linux,x', claudeCodeVersion: 'latest/beta' }
    expect(computeImageCacheKey(odd)).toMatch(
      /^claude-sandbox-image-v3-Linux_x-X64-latest_beta-[0-9a-f]{32}-[0-9a-f]{12}$/
    )
  })
})

describe('imageCacheKeyPrefix: the restore key for the same inputs on any base digest', () => {
  it('is the key without its last part, whatever the base digest', () => {
    const prefix = imageCacheKeyPrefix(baseIngredients())
    expect(prefix).toMatch(/^claude-sandbox-image-v3-Linux-X64-2\.1\.330-[0-9a-f]{32}-$/)
    expect(baseKey.startsWith(prefix)).toBe(true)
    const moved = baseIngredients()
    moved.baseImageDigests = [`debian:12.12-slim@sha256:${'c'.repeat(64)}`]
    const movedKey = computeImageCacheKey(moved)
    expect(movedKey).not.toBe(baseKey)
    expect(movedKey.startsWith(prefix)).toBe(true)
    expect(imageCacheKeyPrefix(moved)).toBe(prefix)
  })

  it.each(changes.filter(([name]) => !name.startsWith('baseImageDigests')))(
    'changes when %s changes',
    (_name, change) => {
      const ingredients = baseIngredients()
      change(ingredients)
      expect(imageCacheKeyPrefix(ingredients)).not.toBe(imageCacheKeyPrefix(baseIngredients()))
    }
  )
})

describe('prebuiltImageCacheKey', () => {
  it('names the platform and the digest, and nothing else decides it', () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`
    const key = prebuiltImageCacheKey('Linux', 'X64', digest)
    expect(key).toBe(`claude-sandbox-image-v3-Linux-X64-prebuilt-${'0123456789abcdef'.repeat(2)}`)
    expect(prebuiltImageCacheKey('Linux', 'ARM64', digest)).not.toBe(key)
    expect(prebuiltImageCacheKey('Linux', 'X64', `sha256:${'f'.repeat(64)}`)).not.toBe(key)
    // Not a prefix of any built image's key, nor the other way round.
    expect(baseKey.startsWith(key) || key.startsWith(imageCacheKeyPrefix(baseIngredients()))).toBe(
      false
    )
  })
})

describe('readContextFiles', () => {
  let dir = ''

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cache-key-context-'))
    await mkdir(path.join(dir, 'sub/deeper'), { recursive: true })
    await mkdir(path.join(dir, 'ignored-dir'), { recursive: true })
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM x\n')
    await writeFile(path.join(dir, 'b.txt'), 'b')
    await writeFile(path.join(dir, 'a.txt'), 'a')
    await writeFile(path.join(dir, 'sub/deeper/c.txt'), 'c')
    await writeFile(path.join(dir, 'sub/notes.log'), 'log')
    await writeFile(path.join(dir, 'sub/keep.log'), 'keep')
    await writeFile(path.join(dir, 'ignored-dir/x.txt'), 'x')
    await symlink('a.txt', path.join(dir, 'link-to-a'))
    await chmod(path.join(dir, 'b.txt'), 0o755)
    await writeFile(
      path.join(dir, '.dockerignore'),
      '# comment\n/ignored-dir\n**/*.log\n!sub/keep.log\n'
    )
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('lists files recursively, sorted, honouring .dockerignore', async () => {
    const files = await readContextFiles(dir)
    expect(files.map(f => f.path)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'a.txt',
      'b.txt',
      'link-to-a',
      'sub/deeper/c.txt',
      'sub/keep.log'
    ])
    expect(files.find(f => f.path === 'sub/deeper/c.txt')?.content.toString()).toBe('c')
    // A link is recorded as a link (its target), not as the file it points to.
    const link = files.find(f => f.path === 'link-to-a')
    expect(link?.content.toString()).toBe('a.txt')
    expect(((link?.mode ?? 0) & 0o170000) === 0o120000).toBe(true)
    expect((files.find(f => f.path === 'b.txt')?.mode ?? 0) & 0o777).toBe(0o755)
  })

  it('feeds the key: a change to a file in the context changes it, an ignored file does not', async () => {
    const keyOf = async (): Promise<string> =>
      computeImageCacheKey({ ...baseIngredients(), contextFiles: await readContextFiles(dir) })
    const before = await keyOf()
    await writeFile(path.join(dir, 'sub/other.log'), 'ignored')
    expect(await keyOf()).toBe(before)
    await writeFile(path.join(dir, 'sub/deeper/c.txt'), 'changed')
    expect(await keyOf()).not.toBe(before)
  })
})

describe('cliCacheKey (the CLI binary is its own entry)', () => {
  const platform = { os: 'Linux', arch: 'X64', libc: 'glibc' as const }

  it('is named by exactly what decides the binary: version, OS, architecture, C library', () => {
    expect(cliCacheKey('2.1.330', platform)).toBe('claude-sandbox-cli-v1-linux-x64-glibc-2.1.330')
    expect(cliCacheKey('2.1.331', platform)).not.toBe(cliCacheKey('2.1.330', platform))
    expect(cliCacheKey('2.1.330', { ...platform, arch: 'ARM64' })).not.toBe(
      cliCacheKey('2.1.330', platform)
    )
  })

  it('a CLI version bump changes the CLI entry and not the bundled image entry', () => {
    // The bundled image's ingredients have no CLI version (claudeCodeVersion ''): the same key.
    const image = { ...baseIngredients(), claudeCodeVersion: '' }
    expect(computeImageCacheKey(image)).not.toContain('2.1.330')
    expect(computeImageCacheKey(image)).toBe(computeImageCacheKey({ ...image }))
    expect(cliCacheKey('2.1.331', platform)).not.toBe(cliCacheKey('2.1.330', platform))
  })

  it('lays the binary out as the tool cache does, with a completion marker beside it', () => {
    const binary = cliBinaryPath('/opt/hostedtoolcache', '2.1.330', 'X64')
    expect(binary).toBe('/opt/hostedtoolcache/claude-code/2.1.330/x64/claude')
    expect(completeMarker(binary)).toBe('/opt/hostedtoolcache/claude-code/2.1.330/x64.complete')
  })
})
