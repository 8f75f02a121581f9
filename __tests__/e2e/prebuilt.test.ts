/**
 * Issue 23, part 2, through dist/ with the real CLI in the real container: when the inputs ask for
 * exactly the bundled image, a cache miss pulls the released image by the digest the action's
 * docker/prebuilt.json records, instead of building it; then caches it as a built one.
 *
 * Two local registries (Debian's docker-registry): one stands in for Docker Hub and holds the
 * bundled Dockerfile's default base, one stands in for ghcr and holds the release. The action is
 * copied (action.yml, dist/, docker/) into a temp directory, its Dockerfile's default base pointed
 * at the local "hub" (no public registry here), the image built from that docker/ with buildx and
 * pushed by the test as the release would, and the record written there, so the repository's own
 * record is left alone. The tag is then moved to other content: what is pulled is the digest.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startFakeCacheService, type FakeCacheService } from '../servers/fake-cache.js'
import { startFakeAnthropic } from '../servers/fake-anthropic.js'
import { baseInputs, docker, leftoverContainers, makeRepo } from '../helpers/e2e.js'
import { REPO_ROOT, runAction, runPost, type ActionRun } from '../helpers/run-action.js'
import { pushImage, startRegistry, type LocalRegistry } from '../helpers/registry.js'
import {
  imageSourceDigest,
  writePrebuiltRecord,
  type PrebuiltRecord
} from '../../src/image/prebuilt-record.js'

const TRIXIE = 'claude-sandbox/debian:trixie-slim'

function empty(dir: string): void {
  for (const entry of readdirSync(dir))
    rmSync(path.join(dir, entry), { recursive: true, force: true })
}

function removeImage(ref: string): void {
  const tags = docker('image', 'inspect', '--format', '{{join .RepoTags " "}}', ref).stdout.trim()
  for (const tag of tags.split(' ').filter(Boolean)) docker('rmi', tag)
  docker('rmi', ref)
}

const lines = (stdout: string, kind: string): string[] =>
  stdout.split('\n').filter(line => line.startsWith(`::${kind}::`))

describe('the prebuilt image, pulled by digest', () => {
  let hub: LocalRegistry
  let ghcr: LocalRegistry
  let repo: string
  let record: PrebuiltRecord
  let releasedId = ''
  let movedId = ''
  const root = mkdtempSync(path.join(os.tmpdir(), 'e2e-prebuilt-'))
  const action = path.join(root, 'action')
  const dockerDir = path.join(action, 'docker')
  const runnerTemp = path.join(root, 'runner-temp')
  const toolCache = path.join(root, 'tool-cache')

  /** Builds the copied docker/ as the release does (buildx, the Dockerfile's defaults). */
  function buildRelease(tag: string, extra: string[] = []): string {
    execFileSync(
      'docker',
      [
        'buildx',
        'build',
        '--load',
        '--quiet',
        '--tag',
        tag,
        ...extra,
        '--file',
        path.join(dockerDir, 'Dockerfile.agent'),
        dockerDir
      ],
      { stdio: 'pipe' }
    )
    return docker('image', 'inspect', '--format', '{{.Id}}', tag).stdout.trim()
  }

  async function run(
    env: Record<string, string>,
    inputs: Record<string, string> = {}
  ): Promise<{ run: ActionRun; post: ActionRun }> {
    const api = await startFakeAnthropic({ turns: [{ text: 'ok' }] })
    // Exactly the bundled image: the builder that fetches the CLI is no part of it.
    // No build-args at all: the CLI is fetched as on a GitHub runner (the runner's npm).
    const all = baseInputs({
      prompt: 'Do the task.',
      'anthropic-base-url': api.url,
      'build-args': '',
      cache: 'true',
      // The cache service's runtime token is no artifact service's: no upload, no warning about it.
      artifact: 'false',
      ...inputs
    })
    try {
      const entry = path.join(action, 'dist', 'index.js')
      const runner = { ...env, RUNNER_TOOL_CACHE: toolCache }
      const main = await runAction({ inputs: all, workspace: repo, env: runner, runnerTemp, entry })
      const post = await runPost(main, { inputs: all, workspace: repo, env: runner, entry })
      return { run: main, post }
    } finally {
      await api.close()
    }
  }

  beforeAll(async () => {
    mkdirSync(runnerTemp, { recursive: true })
    mkdirSync(toolCache, { recursive: true })
    for (const part of ['action.yml', 'dist', 'docker'])
      cpSync(path.join(REPO_ROOT, part), path.join(action, part), { recursive: true })
    ;[hub, ghcr] = await Promise.all([startRegistry(), startRegistry()])
    const base = `${hub.host}/library/debian:13-slim`
    pushImage(TRIXIE, base)
    const dockerfile = path.join(dockerDir, 'Dockerfile.agent')
    const text = readFileSync(dockerfile, 'utf8')
    expect(text).toMatch(/^ARG BASE_IMAGE=debian:13-slim$/m)
    writeFileSync(
      dockerfile,
      text.replace(/^ARG BASE_IMAGE=debian:13-slim$/m, `ARG BASE_IMAGE=${base}`)
    )

    const repository = `${ghcr.host}/org/claude-sandbox-action/agent`
    releasedId = buildRelease(`${repository}:build`, ['--build-arg', 'VCS_REF=v1.0.0'])
    const digest = pushImage(`${repository}:build`, `${repository}:1.0.0`)
    // The tag moves to other content (a rebuild with another revision): the record still names
    // the first digest.
    movedId = buildRelease(`${repository}:build`, ['--build-arg', 'VCS_REF=moved'])
    expect(movedId).not.toBe(releasedId)
    const moved = pushImage(`${repository}:build`, `${repository}:1.0.0`)
    expect(moved).not.toBe(digest)
    removeImage(releasedId)
    removeImage(movedId)
    record = {
      repository,
      version: '1.0.0',
      sourceDigest: imageSourceDigest(dockerDir),
      platforms: { 'linux/amd64': digest }
    }
    writePrebuiltRecord(dockerDir, record)
    repo = makeRepo()
  })

  afterAll(async () => {
    await Promise.all([hub.close(), ghcr.close()])
    rmSync(repo, { recursive: true, force: true })
    rmSync(root, { recursive: true, force: true })
  })

  it('a cache miss pulls the recorded digest (not what the tag now names), builds nothing, caches it; a fresh runner restores it with no registry', async () => {
    const service: FakeCacheService = await startFakeCacheService()
    try {
      const reference = `${record.repository}@${record.platforms['linux/amd64']}`
      const first = await run(service.env)
      expect(first.run.errors).toEqual([])
      expect(first.run.outputs.conclusion).toBe('success')
      expect(first.run.stdout).toContain(`Pulling the prebuilt agent image ${reference}`)
      expect(first.run.stdout).not.toMatch(/Building the agent image/)
      // The CLI came from the runner's npm, while the image was pulled.
      expect(first.run.stdout).toMatch(
        /::group::Fetching Claude Code 2\.1\.330 \(from npm's registry on the runner\)/
      )
      expect(first.run.stdout).not.toMatch(/fetching it in the builder container instead/)
      expect(first.run.stdout).not.toMatch(/fetching it with npm pack instead/)
      expect(lines(first.run.stdout, 'notice')).toEqual([])
      expect(first.run.outputs['image-id']).toBe(releasedId)
      expect(first.run.outputs['cache-hit']).toBe('false')
      const hex = (record.platforms['linux/amd64'] ?? '').slice(
        'sha256:'.length,
        'sha256:'.length + 32
      )
      const key = `claude-sandbox-image-v3-Linux-X64-prebuilt-${hex}`
      expect(service.entries.filter(e => e.finalized).map(e => e.key)).toContain(key)

      // A fresh runner, both registries down: the cache alone serves.
      removeImage(releasedId)
      empty(runnerTemp)
      empty(toolCache)
      await Promise.all([hub.stop(), ghcr.stop()])
      try {
        const second = await run(service.env)
        expect(second.run.errors).toEqual([])
        expect(second.run.outputs.conclusion).toBe('success')
        expect(second.run.outputs['cache-hit']).toBe('true')
        expect(second.run.outputs['image-id']).toBe(releasedId)
        expect(second.run.stdout).not.toMatch(/Pulling the prebuilt|Building the agent image/)
        expect(second.run.stdout).toMatch(/Claude Code binary restored from the Actions cache/)
        expect(lines(second.run.stdout, 'notice')).toEqual([])
        expect(lines(second.run.stdout, 'warning')).toEqual([])
        expect(second.post.exitCode).toBe(0)
      } finally {
        await Promise.all([hub.start(), ghcr.start()])
      }
      expect(leftoverContainers()).toEqual([])
      removeImage(releasedId)
    } finally {
      await service.close()
    }
  })

  it.each([
    ['the digest is missing from the registry', 'missing'],
    ['the registry is down', 'down']
  ])('when %s: one notice, a build, and the result cached as before', async (_what, how) => {
    const service = await startFakeCacheService()
    const saved = JSON.stringify(record)
    if (how === 'missing')
      writePrebuiltRecord(dockerDir, {
        ...record,
        platforms: { 'linux/amd64': `sha256:${'0'.repeat(64)}` }
      })
    else await ghcr.stop()
    try {
      empty(runnerTemp)
      const { run: main } = await run(service.env)
      expect(main.errors).toEqual([])
      expect(main.outputs.conclusion).toBe('success')
      const notices = lines(main.stdout, 'notice')
      expect(notices).toHaveLength(1)
      expect(notices[0]).toMatch(
        how === 'missing'
          ? /^::notice::The prebuilt agent image \S+@sha256:0{64} could not be used \(.*(manifest unknown|not found).*\): building it/
          : /^::notice::The prebuilt agent image \S+ could not be used \(.*(connection refused|dial tcp).*\): building it/
      )
      expect(main.stdout).toMatch(/::group::Building the agent image/)
      expect(main.outputs['image-id']).not.toBe(releasedId)
      const keys = service.entries.filter(e => e.finalized).map(e => e.key)
      expect(
        keys.some(k => /^claude-sandbox-image-v3-Linux-X64-[0-9a-f]{32}-[0-9a-f]{12}$/.test(k))
      ).toBe(true)
      removeImage(main.outputs['image-id'] ?? '')
    } finally {
      writePrebuiltRecord(dockerDir, JSON.parse(saved) as PrebuiltRecord)
      if (!ghcr.running) await ghcr.start()
      await service.close()
    }
  })
})
