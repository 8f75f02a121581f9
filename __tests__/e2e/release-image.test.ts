/**
 * The release script against a real registry: Debian's `docker-registry` (distribution 2.8),
 * started here with a config of our own (filesystem storage in a temp directory, loopback, no
 * auth). scripts/release-image.ts builds the bundled Dockerfile for this machine's platform,
 * pushes it, reads the pushed manifest's digest back from the registry and writes the record into
 * a temporary copy of docker/ (never the repository's own). The evidence is the registry's: the
 * recorded digest is served by the registry, the bytes hash to it, and `docker pull` by that
 * digest gives the image the Dockerfile makes.
 *
 * Multi-platform builds need buildx's docker-container driver, which this machine cannot fetch;
 * the argv for both platforms is checked in __tests__/unit/release-image.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildAndRecord, hasBuildx } from '../../scripts/release-image.js'
import {
  imageSourceDigest,
  prebuiltReference,
  readPrebuiltRecord
} from '../../src/image/prebuilt-record.js'
import { LOCAL_BASE_IMAGE, LOCAL_BUILDER_IMAGE } from '../helpers/e2e.js'
import { startRegistry, type LocalRegistry } from '../helpers/registry.js'
import { REPO_ROOT } from '../helpers/run-action.js'

const DOCKER_DIR = path.join(REPO_ROOT, 'docker')
const DIGEST = /^sha256:[0-9a-f]{64}$/
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json'
].join(', ')

/** This machine's platform as the record names it. */
function hostPlatform(): string {
  const arch = spawnSync('docker', ['version', '--format', '{{.Server.Arch}}'], {
    encoding: 'utf8'
  }).stdout.trim()
  return `linux/${arch || (os.arch() === 'x64' ? 'amd64' : os.arch())}`
}

/** A private copy of docker/ to release from; the record is written there. */
function copyDockerDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'release-docker-'))
  for (const name of ['Dockerfile.agent', 'agent-entrypoint.sh', '.dockerignore', 'prebuilt.json'])
    copyFileSync(path.join(DOCKER_DIR, name), path.join(dir, name))
  chmodSync(path.join(dir, 'agent-entrypoint.sh'), 0o755)
  return dir
}

function docker(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const BUILD_ARGS = { BASE_IMAGE: LOCAL_BASE_IMAGE, BUILDER_IMAGE: LOCAL_BUILDER_IMAGE }

describe('scripts/release-image.ts against a local registry', () => {
  let registry: LocalRegistry
  const platform = hostPlatform()
  const workDirs: string[] = []
  const pushed: string[] = []
  const repositoryRecordBefore = readFileSync(path.join(DOCKER_DIR, 'prebuilt.json'), 'utf8')

  beforeAll(async () => {
    registry = await startRegistry()
  })

  afterAll(async () => {
    for (const reference of pushed) docker('image', 'rm', '--force', reference)
    await registry?.close()
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true })
  })

  /** Builds, pushes and records with `builder`; returns the record written into the copy. */
  async function release(builder: 'buildx' | 'classic', version: string) {
    const dockerDir = copyDockerDir()
    workDirs.push(dockerDir)
    const repository = `${registry.host}/claude-sandbox-action/agent`
    const lines: string[] = []
    const result = await buildAndRecord(
      {
        dockerDir,
        repository,
        version,
        platforms: [platform],
        buildArgs: BUILD_ARGS,
        attestations: false
      },
      dockerDir,
      line => lines.push(line),
      builder
    )
    pushed.push(`${repository}:${version}`)
    return { dockerDir, repository, result, lines }
  }

  /** The registry's own answer for `repository@digest`: status, body's hash, content digest. */
  async function fromRegistry(repository: string, digest: string) {
    const name = repository.slice(registry.host.length + 1)
    const response = await fetch(`http://${registry.host}/v2/${name}/manifests/${digest}`, {
      headers: { accept: MANIFEST_TYPES }
    })
    const body = Buffer.from(await response.arrayBuffer())
    return {
      status: response.status,
      bodyDigest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      header: response.headers.get('docker-content-digest'),
      manifest: JSON.parse(body.toString('utf8')) as { config?: { digest?: string } }
    }
  }

  /** Pulls `reference` into a daemon that does not have it yet and returns its cli-mount label. */
  function pullFresh(reference: string, tagged: string): string {
    docker('image', 'rm', '--force', tagged)
    const pull = docker('pull', reference)
    expect([reference, pull.status, pull.stderr]).toEqual([reference, 0, ''])
    const label = docker(
      'image',
      'inspect',
      '--format',
      '{{index .Config.Labels "org.claude-sandbox-action.cli-mount"}}',
      reference
    )
    docker('image', 'rm', '--force', reference)
    return label.stdout.trim()
  }

  const buildxIt = spawnSync('docker', ['buildx', 'version']).status === 0 ? it : it.skip

  buildxIt(
    'buildx: builds this platform, pushes, and records a digest the registry serves',
    async () => {
      expect(await hasBuildx()).toBe(true)
      const { dockerDir, repository, result, lines } = await release('buildx', '9.9.1')
      expect(result.builder).toBe('buildx')
      expect(lines[0]).toMatch(/^docker buildx build .*--platform linux\/\w+ .*--push /)

      // The record in the copy, read as the action reads it.
      const record = readPrebuiltRecord(dockerDir)
      expect(record).toBeDefined()
      if (!record) return
      expect(Object.keys(record.platforms)).toEqual([platform])
      const digest = record.platforms[platform] as string
      expect(digest).toMatch(DIGEST)
      expect(record.repository).toBe(repository)
      expect(record.version).toBe('9.9.1')
      // Built from these files, which are the repository's docker/ files.
      expect(record.sourceDigest).toBe(imageSourceDigest(dockerDir))
      expect(record.sourceDigest).toBe(imageSourceDigest(DOCKER_DIR))

      // The registry serves that digest, and its bytes are what the digest names.
      const served = await fromRegistry(repository, digest)
      expect(served.status).toBe(200)
      expect(served.bodyDigest).toBe(digest)
      expect(served.header).toBe(digest)
      expect(served.manifest.config?.digest).toMatch(DIGEST)

      // And it is the Dockerfile's image: a fresh pull by digest carries the Dockerfile's label.
      const reference = prebuiltReference(record, platform) as string
      expect(reference).toBe(`${repository}@${digest}`)
      expect(pullFresh(reference, `${repository}:9.9.1`)).toBe('/usr/local/bin/claude')

      // The repository's own record is untouched.
      expect(readFileSync(path.join(DOCKER_DIR, 'prebuilt.json'), 'utf8')).toBe(
        repositoryRecordBefore
      )
    }
  )

  it('classic builder (no buildx): docker build + push, the digest from RepoDigests', async () => {
    const { dockerDir, repository, result, lines } = await release('classic', '9.9.2')
    expect(result.builder).toBe('classic')
    expect(lines[0]).toMatch(/^docker build .*\(DOCKER_BUILDKIT=0\)$/)
    const record = readPrebuiltRecord(dockerDir)
    const digest = record?.platforms[platform] ?? ''
    expect(digest).toMatch(DIGEST)
    expect(record?.sourceDigest).toBe(imageSourceDigest(DOCKER_DIR))
    const served = await fromRegistry(repository, digest)
    expect([served.status, served.bodyDigest]).toEqual([200, digest])
    expect(pullFresh(`${repository}@${digest}`, `${repository}:9.9.2`)).toBe(
      '/usr/local/bin/claude'
    )
    expect(readFileSync(path.join(DOCKER_DIR, 'prebuilt.json'), 'utf8')).toBe(
      repositoryRecordBefore
    )
  })

  it('a digest the registry does not have is refused by it (the check above can fail)', async () => {
    const repository = `${registry.host}/claude-sandbox-action/agent`
    const missing = `sha256:${'0'.repeat(64)}`
    expect((await fromRegistry(repository, missing).catch(() => ({ status: 404 }))).status).toBe(
      404
    )
  })
})
