/**
 * Issues 5 and 12: the agent image and the Claude Code CLI binary are two entries of the Actions
 * cache, saved and restored with the real @actions/cache client against a local cache service
 * (v2 protocol), through dist/ and the runner contract. Between runs the machine is made a fresh
 * runner: the image gone from the daemon, RUNNER_TEMP and the tool cache emptied; only the cache
 * service keeps its data.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startFakeCacheService, type FakeCacheService } from '../servers/fake-cache.js'
import {
  LOCAL_BUILD_ARGS,
  docker,
  leftoverContainers,
  makeRepo,
  runScenario
} from '../helpers/e2e.js'
import { cliBinaryPath } from '../../src/image/cli-binary.js'

/** A build argument no stage reads: it changes the cache key (and so the tag) and nothing else. */
function uniqueBuildArgs(): string {
  return `${LOCAL_BUILD_ARGS}\nCACHE_E2E_NONCE=${randomBytes(6).toString('hex')}`
}

const done = [{ text: 'ok' }]
const PINNED = '2.1.330'
const BUMPED = '2.1.331'

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(file)
      .on('data', chunk => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')))
  })
}

/** Empties a directory the way the runner empties RUNNER_TEMP between jobs. */
function empty(dir: string): void {
  for (const entry of readdirSync(dir))
    rmSync(path.join(dir, entry), { recursive: true, force: true })
}

function removeImage(id: string): void {
  const tags = docker('image', 'inspect', '--format', '{{join .RepoTags " "}}', id)
    .stdout.trim()
    .split(' ')
  for (const tag of tags.filter(Boolean)) expect(docker('rmi', tag).status).toBe(0)
  expect(docker('image', 'inspect', id).status).not.toBe(0)
}

/** The prefix of the cache entries follow-ups resume from (src/continuation/scope.ts). */
const SESSION_KEY_PREFIX = 'claude-sandbox-session-'

describe('image and CLI cache', () => {
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

  it('miss -> build, fetch, save; fresh runner -> restore both, nothing built; a CLI bump fetches and saves only the CLI', async () => {
    // One runner: the same RUNNER_TEMP and tool cache paths on every run (the cache entries'
    // versions cover them), emptied in between.
    const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'e2e-cache-runner-'))
    const toolCache = mkdtempSync(path.join(os.tmpdir(), 'e2e-cache-tools-'))
    const env = { ...service.env, RUNNER_TOOL_CACHE: toolCache }
    const inputs = { cache: 'true', 'build-args': uniqueBuildArgs() }
    const cliPath = cliBinaryPath(toolCache, PINNED, 'X64')
    // The image's and the CLI's entries (a run also saves its session for follow-ups: not ours).
    const finalized = (): string[] =>
      service.entries
        .filter(e => e.finalized && !e.key.startsWith(SESSION_KEY_PREFIX))
        .map(e => e.key)
    try {
      const first = await runScenario(done, { repo, inputs, env, runnerTemp })
      expect(first.run.errors).toEqual([])
      expect(first.run.outputs.conclusion).toBe('success')
      expect(first.run.outputs['cache-hit']).toBe('false')
      expect(first.run.stdout).toMatch(/::group::Building the agent image/)
      expect(first.run.stdout).toMatch(/::group::Fetching Claude Code 2\.1\.330/)
      const keys = finalized()
      expect(keys).toHaveLength(2)
      const imageKey = keys.find(k => k.startsWith('claude-sandbox-image-'))
      const cliKey = keys.find(k => k.startsWith('claude-sandbox-cli-'))
      expect(imageKey).toBeDefined()
      // The CLI version names the CLI entry only; the image entry does not depend on it.
      expect(cliKey).toBe(`claude-sandbox-cli-v1-linux-x64-glibc-${PINNED}`)
      expect(imageKey).not.toContain(PINNED)
      const builtId = first.run.outputs['image-id'] ?? ''
      expect(builtId).toMatch(/^sha256:/)
      const cliDigest = await sha256File(cliPath)

      // A fresh runner: nothing of run 1 left but the cache service's data.
      removeImage(builtId)
      empty(runnerTemp)
      empty(toolCache)
      expect(existsSync(cliPath)).toBe(false)

      const second = await runScenario(done, { repo, inputs, env, runnerTemp })
      expect(second.run.errors).toEqual([])
      expect(second.run.outputs.conclusion).toBe('success')
      expect(second.run.outputs['cache-hit']).toBe('true')
      expect(second.run.stdout).not.toMatch(/Building the agent image/)
      expect(second.run.stdout).not.toMatch(/Fetching Claude Code/)
      expect(second.run.stdout).toMatch(/Restored the agent image from the cache/)
      expect(second.run.stdout).toMatch(/Claude Code binary restored from the Actions cache/)
      expect(second.run.outputs['image-id']).toBe(builtId)
      expect(await sha256File(cliPath)).toBe(cliDigest)
      // Nothing new was stored.
      expect(finalized()).toEqual(keys)
      expect(second.post.exitCode).toBe(0)
      // The image tarball does not outlive the run.
      expect(readdirSync(runnerTemp).filter(f => f.endsWith('.tar'))).toEqual([])

      // A CLI version bump on the same runner: the image is kept as it is (no build, no
      // restore, no save); only the new CLI is fetched and stored.
      const third = await runScenario(done, {
        repo,
        inputs: { ...inputs, 'claude-code-version': BUMPED },
        env,
        runnerTemp
      })
      expect(third.run.errors).toEqual([])
      expect(third.run.outputs.conclusion).toBe('success')
      expect(third.run.stdout).not.toMatch(/Building the agent image/)
      // Found by its inputs: the base is not asked for before the start (present-image.ts).
      expect(third.run.stdout).toMatch(
        /The agent image claude-sandbox-agent:\S+-inputs is already on this runner/
      )
      expect(third.run.stdout).not.toMatch(/Base image \S+ \(/)
      expect(third.run.stdout).toMatch(/::group::Fetching Claude Code 2\.1\.331/)
      expect(third.run.outputs['image-id']).toBe(builtId)
      expect(finalized()).toEqual([...keys, `claude-sandbox-cli-v1-linux-x64-glibc-${BUMPED}`])
      // The transcript's init line names the version that ran.
      const transcript = readFileSync(third.run.outputs['execution-file'] ?? '', 'utf8')
      expect(transcript).toContain(`"claude_code_version":"${BUMPED}"`)
      expect(leftoverContainers()).toEqual([])
    } finally {
      rmSync(runnerTemp, { recursive: true, force: true })
      rmSync(toolCache, { recursive: true, force: true })
    }
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

  it('cache: false never asks the service for the image or the CLI', async () => {
    const before = service.requests.length
    const { run } = await runScenario(done, {
      repo,
      inputs: { cache: 'false', 'build-args': uniqueBuildArgs() },
      env: service.env
    })
    expect(run.outputs.conclusion).toBe('success')
    // Only the session's entry for follow-ups (`continue`, its own input) may be saved.
    const asked = service.requests
      .slice(before)
      .filter(request => !request.operation.startsWith('blob:')) // the session's own uploads
      .map(request => `${request.operation} ${JSON.stringify(request.body ?? {})}`)
      .filter(call => !call.includes(SESSION_KEY_PREFIX))
    expect(asked).toEqual([])
  })
})
