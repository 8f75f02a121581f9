/**
 * When the action pulls the released image instead of building (issue 23): only for exactly the
 * bundled image, only with a record made from the docker/ files beside it, only for a platform
 * the release has. The docker/ directories here are real copies of the action's.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  choosePrebuilt,
  dockerPlatform,
  imageChangingInputs,
  prebuiltFallbackNotice
} from '../../src/image/prebuilt.js'
import { imageSourceDigest, writePrebuiltRecord } from '../../src/image/prebuilt-record.js'
import { buildxArgs, classicBuildArgs } from '../../src/image/build.js'
import type { ImageSettings } from '../../src/settings.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const DIGEST = `sha256:${'ab'.repeat(32)}`
const linux = { os: 'Linux', arch: 'X64', libc: 'glibc' as const }

function bundled(overrides: Partial<ImageSettings> = {}): ImageSettings {
  return {
    dockerfile: path.join(ROOT, 'docker', 'Dockerfile.agent'),
    bundledDockerfile: true,
    buildArgs: {},
    extraPackages: [],
    cache: true,
    ...overrides
  }
}

describe('imageChangingInputs', () => {
  it('is empty for the bundled image, also with the CLI version or its builder', () => {
    expect(imageChangingInputs(bundled())).toEqual([])
    expect(
      imageChangingInputs(
        bundled({ buildArgs: { CLAUDE_CODE_VERSION: '2.1.330', BUILDER_IMAGE: 'node:22' } })
      )
    ).toEqual([])
  })

  it.each<[string, Partial<ImageSettings>, string]>([
    ['image', { image: 'ghcr.io/acme/agent:1' }, 'image'],
    ['dockerfile', { bundledDockerfile: false, dockerfile: '/repo/Dockerfile' }, 'dockerfile'],
    ['base-image', { baseImage: 'node:22-bookworm' }, 'base-image'],
    ['extra-packages', { extraPackages: ['make'] }, 'extra-packages'],
    [
      'build-args BASE_IMAGE',
      { buildArgs: { BASE_IMAGE: 'debian:12-slim' } },
      'build-args BASE_IMAGE'
    ],
    ['build-args SLIM', { buildArgs: { SLIM: 'false' } }, 'build-args SLIM'],
    ['an unknown build arg', { buildArgs: { FOO: '1' } }, 'build-args FOO']
  ])('names %s', (_what, overrides, expected) => {
    expect(imageChangingInputs(bundled(overrides))).toEqual([expected])
  })
})

describe('dockerPlatform', () => {
  it.each([
    ['X64', 'linux/amd64'],
    ['x64', 'linux/amd64'],
    ['ARM64', 'linux/arm64'],
    ['arm', undefined]
  ])('%s -> %s', (arch, expected) => {
    expect(dockerPlatform({ ...linux, arch })).toBe(expected)
  })
  it('is undefined off Linux', () => {
    expect(dockerPlatform({ ...linux, os: 'macOS' })).toBeUndefined()
  })
})

describe('choosePrebuilt', () => {
  let dockerDir = ''
  beforeEach(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prebuilt-unit-'))
    dockerDir = path.join(dir, 'docker')
    cpSync(path.join(ROOT, 'docker'), dockerDir, { recursive: true })
    writePrebuiltRecord(dockerDir, {
      repository: 'ghcr.io/acme/claude-sandbox-action/agent',
      version: '1.2.3',
      sourceDigest: imageSourceDigest(dockerDir),
      platforms: { 'linux/amd64': DIGEST }
    })
  })
  afterEach(() => rmSync(path.dirname(dockerDir), { recursive: true, force: true }))

  it('pulls repository@digest for the platform, keyed by the digest', () => {
    const choice = choosePrebuilt(bundled(), dockerDir, linux)
    expect(choice).toEqual({
      candidate: {
        reference: `ghcr.io/acme/claude-sandbox-action/agent@${DIGEST}`,
        digest: DIGEST,
        platform: 'linux/amd64',
        version: '1.2.3',
        key: `claude-sandbox-image-v3-Linux-X64-prebuilt-${'ab'.repeat(16)}`
      }
    })
  })

  it('never with prebuilt-image: never, quietly', () => {
    expect(choosePrebuilt(bundled({ prebuiltImage: 'never' }), dockerDir, linux)).toEqual({
      skip: 'prebuilt-image: never'
    })
  })

  it('never when an input changes the image, quietly', () => {
    const choice = choosePrebuilt(bundled({ extraPackages: ['make'] }), dockerDir, linux)
    expect(choice).toEqual({ skip: 'the inputs change the image (extra-packages)' })
  })

  it('not when the docker/ files differ from those the record was made from, with a notice', () => {
    appendFileSync(path.join(dockerDir, 'agent-entrypoint.sh'), '\n# changed\n')
    const choice = choosePrebuilt(bundled(), dockerDir, linux)
    expect(choice).toMatchObject({ notice: true })
    expect('skip' in choice && choice.skip).toMatch(/built from other docker\/ files/)
  })

  it('not for a platform the release has no image for', () => {
    const choice = choosePrebuilt(bundled(), dockerDir, { ...linux, arch: 'ARM64' })
    expect(choice).toEqual({ skip: 'release 1.2.3 has no image for linux/arm64' })
  })

  it('not for an unreleased tree (empty platforms), quietly', () => {
    writeFileSync(
      path.join(dockerDir, 'prebuilt.json'),
      JSON.stringify({ repository: 'r', version: '0.0.0', sourceDigest: '', platforms: {} })
    )
    expect(choosePrebuilt(bundled(), dockerDir, linux)).toEqual({
      skip: 'this version of the action records no released image'
    })
  })

  it('not for a malformed record, with a notice instead of a failure', () => {
    writeFileSync(path.join(dockerDir, 'prebuilt.json'), '{"platforms": {"linux/amd64": "latest"}}')
    const choice = choosePrebuilt(bundled(), dockerDir, linux)
    expect(choice).toMatchObject({ notice: true })
  })

  it('says in its notice what failed and how to stop trying', () => {
    expect(prebuiltFallbackNotice('r@sha256:x', 'manifest unknown')).toBe(
      'The prebuilt agent image r@sha256:x could not be used (manifest unknown): building it from the bundled Dockerfile instead. Set prebuilt-image: never to always build.'
    )
  })
})

describe('build labels', () => {
  it('both builders get the base labels as --label', () => {
    const request = {
      dockerfile: 'D',
      context: 'C',
      tag: 't',
      buildArgs: {},
      iidFile: 'i',
      labels: { 'org.opencontainers.image.base.digest': DIGEST }
    }
    for (const args of [buildxArgs(request), classicBuildArgs(request)]) {
      const at = args.indexOf('--label')
      expect(args[at + 1]).toBe(`org.opencontainers.image.base.digest=${DIGEST}`)
      expect(args[args.length - 1]).toBe('C')
    }
  })
})
