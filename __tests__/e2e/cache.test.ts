/**
 * Issue 5: the agent image is cached with the real @actions/cache client against a local
 * Actions cache service (v2 protocol), through dist/ and the runner contract.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startFakeCacheService, type FakeCacheService } from '../servers/fake-cache.js'
import { LOCAL_BUILD_ARGS, docker, makeRepo, runScenario } from '../helpers/e2e.js'

/** A build argument no stage reads: it changes the cache key (and so the tag) and nothing else. */
function uniqueBuildArgs(): string {
  return `${LOCAL_BUILD_ARGS}\nCACHE_E2E_NONCE=${randomBytes(6).toString('hex')}`
}

const done = [{ text: 'ok' }]

describe('image cache', () => {
  let service: FakeCacheService
  let repo: string

  beforeAll(async () => {
    service = await startFakeCacheService()
    repo = makeRepo()
  })
  afterAll(async () => {
    await service.close()
    rmSync(repo, { recursive: true, force: true })
  })

  it('run 1 misses, builds and saves; run 2 restores and loads the same image without building', async () => {
    const inputs = { cache: 'true', 'build-args': uniqueBuildArgs() }
    // The cache entry's version covers the tarball's path, under RUNNER_TEMP: one runner, one path.
    const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'e2e-cache-runner-'))
    const first = await runScenario(done, { repo, inputs, env: service.env, runnerTemp })
    expect(first.run.errors).toEqual([])
    expect(first.run.outputs['cache-hit']).toBe('false')
    expect(first.run.stdout).toMatch(/::group::Building the agent image/)
    expect(service.entries.filter(e => e.finalized)).toHaveLength(1)
    const builtId = first.run.outputs['image-id'] ?? ''
    expect(builtId).toMatch(/^sha256:/)

    // Gone from the daemon: only the cache can bring it back.
    const tags = docker('image', 'inspect', '--format', '{{join .RepoTags " "}}', builtId)
      .stdout.trim()
      .split(' ')
    for (const tag of tags.filter(Boolean)) expect(docker('rmi', tag).status).toBe(0)
    expect(docker('image', 'inspect', builtId).status).not.toBe(0)

    const second = await runScenario(done, { repo, inputs, env: service.env, runnerTemp })
    expect(second.run.errors).toEqual([])
    expect(second.run.outputs['cache-hit']).toBe('true')
    expect(second.run.stdout).not.toMatch(/Building the agent image/)
    expect(second.run.stdout).toMatch(/Restored the agent image from the cache/)
    expect(second.run.outputs['image-id']).toBe(builtId)
    expect(second.run.outputs.conclusion).toBe('success')
    // The post step removes the tarball.
    expect(second.post.exitCode).toBe(0)
  })

  it.each([
    ['returns 500s', { failWith500: true }],
    ['refuses the write', { refuseWrites: true }]
  ])('a service that %s is a warning and the run succeeds', async (_what, options) => {
    const flaky = await startFakeCacheService(options)
    try {
      const { run } = await runScenario(done, {
        repo,
        inputs: { cache: 'true', 'build-args': uniqueBuildArgs() },
        env: flaky.env
      })
      expect(run.errors).toEqual([])
      expect(run.exitCode).toBe(0)
      expect(run.outputs.conclusion).toBe('success')
      expect(run.outputs['cache-hit']).toBe('false')
      expect(run.stdout).toMatch(/::warning::.*cache/i)
    } finally {
      await flaky.close()
    }
  })

  it('a service that is down is a warning and the run succeeds', async () => {
    const env = { ...service.env, ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/' }
    const { run } = await runScenario(done, {
      repo,
      inputs: { cache: 'true', 'build-args': uniqueBuildArgs() },
      env
    })
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    expect(run.stdout).toMatch(/::warning::.*cache/i)
  })

  it('cache: false never talks to the service', async () => {
    const before = service.requests.length
    const { run } = await runScenario(done, {
      repo,
      inputs: { cache: 'false', 'build-args': uniqueBuildArgs() },
      env: service.env
    })
    expect(run.outputs.conclusion).toBe('success')
    expect(service.requests.length).toBe(before)
  })
})
