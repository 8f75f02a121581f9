/**
 * When the action pulls the released image instead of building (issue 23): only for exactly the
 * bundled image, only with a record made from the docker/ files beside it, only for a platform
 * the release has. The docker/ directories here are real copies of the action's. The pull itself
 * against a local registry (Debian's docker-registry): an image with the CLI-mount label is
 * tagged and used, one without it is refused and removed.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  choosePrebuilt,
  dockerPlatform,
  imageChangingInputs,
  prebuiltFallbackNotice,
  pullPrebuilt,
  type PrebuiltCandidate
} from '../../src/image/prebuilt.js'
import { CLI_CONTAINER_PATH, CLI_MOUNT_LABEL } from '../../src/image/cli-binary.js'
import { pushImage, startRegistry, type LocalRegistry } from '../helpers/registry.js'
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

describe('pullPrebuilt against a local registry', () => {
  const docker = (...args: string[]): string =>
    execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const run = randomBytes(4).toString('hex')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'unit-prebuilt-pull-'))
  let registry: LocalRegistry
  const tags: string[] = []
  /** Builds a one-label image on the local base, pushes it by digest and removes it here. */
  const release = (name: string, label: string): PrebuiltCandidate => {
    const context = path.join(dir, name)
    mkdirSync(context)
    writeFileSync(
      path.join(context, 'Dockerfile'),
      `FROM claude-sandbox/debian:bookworm-slim\nLABEL ${label}\nLABEL unit-run=${run}-${name}\n`
    )
    const local = `claude-sandbox-unit-prebuilt-${name}:${run}`
    execFileSync('docker', ['build', '-q', '-t', local, context], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: 'ignore'
    })
    const repository = `${registry.host}/org/claude-sandbox-action/agent-${name}`
    const digest = pushImage(local, `${repository}:1.0.0`)
    docker('rmi', local)
    return {
      reference: `${repository}@${digest}`,
      digest,
      platform: 'linux/amd64',
      version: '1.0.0',
      key: `unit-${name}`
    }
  }

  beforeAll(async () => {
    registry = await startRegistry()
  })
  afterAll(async () => {
    for (const tag of tags) spawnQuiet('rmi', tag)
    await registry.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const spawnQuiet = (...args: string[]): void => {
    try {
      docker(...args)
    } catch {
      // already gone
    }
  }

  it('tags and returns an image that asks for the CLI mount; refuses and removes one that does not', async () => {
    const labelled = release('labelled', `${CLI_MOUNT_LABEL}=${CLI_CONTAINER_PATH}`)
    const unlabelled = release('unlabelled', 'other=1')
    const log = { info: () => undefined }

    const tag = `claude-sandbox-agent:unit-${run}`
    tags.push(tag, labelled.reference)
    const pulled = await pullPrebuilt(labelled, tag, log)
    expect(pulled).toEqual({
      ok: true,
      id: docker('image', 'inspect', '--format', '{{.Id}}', tag).trim()
    })

    const refused = await pullPrebuilt(unlabelled, `claude-sandbox-agent:unit-no-${run}`, log)
    expect(refused).toEqual({ ok: false, reason: `it does not carry the label ${CLI_MOUNT_LABEL}` })
    expect(() => docker('image', 'inspect', unlabelled.reference)).toThrow()
  })
})
