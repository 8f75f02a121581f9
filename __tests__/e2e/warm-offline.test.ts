/**
 * Issue 22, part 2, through dist/ with the real CLI in the real container: the warm path needs no
 * registry. The base image lives in a local registry (Debian's docker-registry standing in for
 * Docker Hub), the Actions cache is the local v2 service. A run fills the cache; then a fresh
 * runner (images removed, RUNNER_TEMP and the tool cache emptied, same paths) with the registry
 * stopped starts from the cache with one warning naming the base digest the image was built on.
 * With buildx (what GitHub-hosted runners have) and with the classic builder (DOCKER_CONFIG
 * pointing at a directory without the buildx plugin). With buildx, the registry then comes back
 * with the tag moved to other content: the run builds on the new base and stores a fresh entry.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startFakeCacheService, type FakeCacheService } from '../servers/fake-cache.js'
import {
  LOCAL_BUILDER_IMAGE,
  docker,
  leftoverContainers,
  makeRepo,
  runScenario
} from '../helpers/e2e.js'
import { pushImage, startRegistry, type LocalRegistry } from '../helpers/registry.js'

const TRIXIE = 'claude-sandbox/debian:trixie-slim'
const BOOKWORM = 'claude-sandbox/debian:bookworm-slim'
const done = [{ text: 'ok' }]

function empty(dir: string): void {
  for (const entry of readdirSync(dir))
    rmSync(path.join(dir, entry), { recursive: true, force: true })
}

/** Removes every tag of an image (and so the image), as a fresh runner would not have it. */
function removeImage(ref: string): void {
  const tags = docker('image', 'inspect', '--format', '{{join .RepoTags " "}}', ref).stdout.trim()
  for (const tag of tags.split(' ').filter(Boolean)) docker('rmi', tag)
  docker('rmi', ref)
}

const warnings = (stdout: string): string[] =>
  stdout.split('\n').filter(line => line.startsWith('::warning::'))

describe.each([
  ['buildx', false],
  ['the classic builder', true]
])('warm start with the base image registry down (%s)', (_builder, classic) => {
  let registry: LocalRegistry
  let service: FakeCacheService
  let repo: string
  let baseRef: string
  let baseDigest: string
  const root = mkdtempSync(path.join(os.tmpdir(), 'e2e-warm-offline-'))
  const runnerTemp = path.join(root, 'runner-temp')
  const toolCache = path.join(root, 'tool-cache')
  const dockerConfig = path.join(root, 'docker-config-without-plugins')
  const nonce = randomBytes(6).toString('hex')

  beforeAll(async () => {
    for (const dir of [runnerTemp, toolCache, dockerConfig]) mkdirSync(dir, { recursive: true })
    registry = await startRegistry()
    service = await startFakeCacheService()
    repo = makeRepo()
    baseRef = `${registry.host}/library/debian:13-slim`
    baseDigest = pushImage(TRIXIE, baseRef)
    if (!classic) expect(docker('buildx', 'version').status).toBe(0)
  })
  afterAll(async () => {
    await registry.close()
    await service.close()
    rmSync(repo, { recursive: true, force: true })
    rmSync(root, { recursive: true, force: true })
  })

  it('fills the cache; a fresh runner with the registry stopped succeeds from the cache with one warning', async () => {
    const env = {
      ...service.env,
      RUNNER_TOOL_CACHE: toolCache,
      ...(classic ? { DOCKER_CONFIG: dockerConfig } : {})
    }
    const inputs = {
      cache: 'true',
      // The cache service's runtime token is no artifact service's: no upload, no warning about it.
      artifact: 'false',
      'build-args': `BASE_IMAGE=${baseRef}\nBUILDER_IMAGE=${LOCAL_BUILDER_IMAGE}\nWARM_E2E_NONCE=${nonce}`
    }
    const first = await runScenario(done, { repo, inputs, env, runnerTemp })
    expect(first.run.errors).toEqual([])
    expect(first.run.outputs.conclusion).toBe('success')
    expect(first.run.stdout).toMatch(/::group::Building the agent image/)
    if (classic) {
      expect(first.run.stdout).toMatch(/classic builder/)
      expect(first.run.stdout).toContain(`Base image ${baseRef} (local@sha256:`)
    } else {
      expect(first.run.stdout).not.toMatch(/classic builder/)
      expect(first.run.stdout).toContain(
        `Base image ${baseRef} (${baseRef}@${baseDigest}, from the registry)`
      )
    }
    const builtId = first.run.outputs['image-id'] ?? ''
    const imageKeys = (): string[] =>
      service.entries
        .filter(e => e.finalized && e.key.startsWith('claude-sandbox-image-'))
        .map(e => e.key)
    expect(imageKeys()).toHaveLength(1)
    const labels = docker('image', 'inspect', '--format', '{{json .Config.Labels}}', builtId)
    const recorded = (JSON.parse(labels.stdout) as Record<string, string>)[
      'org.opencontainers.image.base.digest'
    ]
    if (!classic) expect(recorded).toBe(baseDigest)
    expect(recorded).toMatch(/^sha256:[0-9a-f]{64}$/)

    // A fresh runner: no agent image, no base, RUNNER_TEMP and tool cache emptied; the registry
    // unreachable. Only the cache service keeps its data.
    removeImage(builtId)
    // Only this reference: the image also carries the local base's own tag, which stays.
    docker('rmi', baseRef)
    expect(docker('image', 'inspect', builtId).status).not.toBe(0)
    empty(runnerTemp)
    empty(toolCache)
    await registry.stop()
    expect(docker('pull', baseRef).status).not.toBe(0)

    const second = await runScenario(done, { repo, inputs, env, runnerTemp })
    expect(second.run.errors).toEqual([])
    expect(second.run.outputs.conclusion).toBe('success')
    expect(second.run.outputs['cache-hit']).toBe('true')
    expect(second.run.outputs['image-id']).toBe(builtId)
    expect(second.run.stdout).not.toMatch(/Building the agent image/)
    const said = warnings(second.run.stdout)
    expect(said).toHaveLength(1)
    expect(said[0]).toMatch(
      new RegExp(
        `^::warning::The base image ${baseRef.replace(/[.]/g, '\\.')} could not be reached \\(.+\\): starting from the newest cached agent image for these inputs, built on .* at ${recorded}\\.`
      )
    )
    expect(imageKeys()).toHaveLength(1)
    expect(second.post.exitCode).toBe(0)
    expect(leftoverContainers()).toEqual([])

    if (classic) return
    // The registry answers again, with the tag moved to other content: the exact key misses, the
    // image is built on the new base and stored under a fresh entry; nothing is said about the cache.
    await registry.start()
    const movedDigest = pushImage(BOOKWORM, baseRef)
    expect(movedDigest).not.toBe(baseDigest)
    const third = await runScenario(done, { repo, inputs, env, runnerTemp })
    expect(third.run.errors).toEqual([])
    expect(third.run.outputs.conclusion).toBe('success')
    expect(third.run.stdout).toContain(`(${baseRef}@${movedDigest}, from the registry)`)
    expect(third.run.stdout).toMatch(/::group::Building the agent image/)
    expect(warnings(third.run.stdout)).toEqual([])
    const keys = imageKeys()
    expect(keys).toHaveLength(2)
    // Same inputs and base reference: the two entries share the prefix a restore key matches.
    const prefix = (key: string): string => key.slice(0, key.lastIndexOf('-') + 1)
    expect(prefix(keys[1] ?? '')).toBe(prefix(keys[0] ?? ''))

    // The tag moves back to the first content, on a fresh runner: the newest entry for these
    // inputs (restored while the digest was asked) is the moved tag's, not this digest's; it is
    // set aside and the exact key's older entry restored. Nothing is built or stored.
    removeImage(third.run.outputs['image-id'] ?? '')
    removeImage(builtId)
    empty(runnerTemp)
    empty(toolCache)
    expect(pushImage(TRIXIE, baseRef)).toBe(baseDigest)
    const fourth = await runScenario(done, { repo, inputs, env, runnerTemp })
    expect(fourth.run.errors).toEqual([])
    expect(fourth.run.outputs.conclusion).toBe('success')
    expect(fourth.run.stdout).toContain(`(${baseRef}@${baseDigest}, from the registry)`)
    expect(fourth.run.stdout).toMatch(
      /the newest cached agent image for these inputs \(\S+\) was built on another base digest/
    )
    expect(fourth.run.stdout).not.toMatch(/Building the agent image/)
    expect(fourth.run.outputs['cache-hit']).toBe('true')
    expect(fourth.run.outputs['image-id']).toBe(builtId)
    expect(warnings(fourth.run.stdout)).toEqual([])
    expect(imageKeys()).toEqual(keys)
    removeImage(fourth.run.outputs['image-id'] ?? '')
  })
})
