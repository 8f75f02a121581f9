/**
 * The run's artifact against the local artifact service, uploaded by the real @actions/artifact
 * client (which reads ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN from process.env at call
 * time, so each test sets them for its own duration). The evidence is the zip the service
 * stored, listed with `unzip`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  artifactPageUrl,
  defaultArtifactName,
  findArtifactUrl,
  jobSuffix,
  uploadRunArtifact
} from '../../src/report/artifact.js'
import { startFakeArtifactService, type FakeArtifactService } from '../servers/fake-artifact.js'

const RUNNER = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'octo-org/octo-repo',
  GITHUB_RUN_ID: '4242',
  GITHUB_JOB: 'agent',
  GITHUB_RUN_ATTEMPT: '2'
}
const CLIENT_ENV = ['ACTIONS_RESULTS_URL', 'ACTIONS_RUNTIME_TOKEN', ...Object.keys(RUNNER)]

let service: FakeArtifactService
let dir = ''
const saved = new Map(CLIENT_ENV.map(name => [name, process.env[name]]))

function useEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  for (const name of CLIENT_ENV) delete process.env[name]
  Object.assign(process.env, RUNNER, env)
  return process.env
}

function zipListing(zip: Buffer): string[] {
  const file = path.join(dir, `listing-${Date.now()}.zip`)
  writeFileSync(file, zip)
  return execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).split('\n').filter(Boolean)
}

function zipEntry(zip: Buffer, name: string): string {
  const file = path.join(dir, `entry-${Date.now()}.zip`)
  writeFileSync(file, zip)
  return execFileSync('unzip', ['-p', file, name], { encoding: 'utf8' })
}

beforeAll(async () => {
  service = await startFakeArtifactService()
  dir = mkdtempSync(path.join(os.tmpdir(), 'artifact-unit-'))
  writeFileSync(path.join(dir, 'claude.patch'), 'diff --git a/x b/x\n')
  writeFileSync(path.join(dir, 'claude-execution.jsonl'), '{"type":"result"}\n')
  writeFileSync(path.join(dir, 'gateway.log'), '{"path":"/v1/messages"}\n')
})
afterEach(() => {
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  service.options.refuseWith = undefined
})
afterAll(async () => {
  await service.close()
  rmSync(dir, { recursive: true, force: true })
})

const files = (): string[] =>
  ['claude.patch', 'claude-execution.jsonl', 'gateway.log', 'network.log'].map(name =>
    path.join(dir, name)
  )

describe('names and links', () => {
  it('names the artifact after the job and the attempt', () => {
    expect(defaultArtifactName({ GITHUB_JOB: 'fix-tests', GITHUB_RUN_ATTEMPT: '3' })).toBe(
      'claude-sandbox-fix-tests-3'
    )
    expect(defaultArtifactName({})).toBe('claude-sandbox-job-1')
  })

  it('links the artifact page of the run', () => {
    expect(artifactPageUrl(17, { ...RUNNER, GITHUB_SERVER_URL: 'https://github.com/' })).toBe(
      'https://github.com/octo-org/octo-repo/actions/runs/4242/artifacts/17'
    )
  })

  it('tells matrix legs apart by the job id in the runtime token', () => {
    const a = jobSuffix({ ...service.env('job-a'), GITHUB_ACTION: 'claude' })
    const b = jobSuffix({ ...service.env('job-b'), GITHUB_ACTION: 'claude' })
    expect(a).toMatch(/^[0-9a-f]{8}$/)
    expect(a).not.toBe(b)
    expect(jobSuffix({ ...service.env('job-a'), GITHUB_ACTION: 'claude' })).toBe(a)
  })
})

describe('uploadRunArtifact with the real client', () => {
  it('uploads the files that exist as one zip, with the retention asked for', async () => {
    const env = useEnv(service.env('job-upload'))
    const outcome = await uploadRunArtifact({
      settings: { enabled: true, retentionDays: 5 },
      files: files(),
      rootDirectory: dir,
      env
    })
    expect(outcome).toMatchObject({ uploaded: true, name: 'claude-sandbox-agent-2' })
    if (!outcome.uploaded) throw new Error('not uploaded')
    const stored = service.artifacts.find(a => a.id === outcome.id)
    expect(stored?.finalized).toBe(true)
    expect(outcome.url).toBe(
      `https://github.com/octo-org/octo-repo/actions/runs/4242/artifacts/${outcome.id}`
    )
    const zip = await service.read(stored!)
    // network.log does not exist (open network mode): left out, not an error.
    expect(zipListing(zip).sort()).toEqual([
      'claude-execution.jsonl',
      'claude.patch',
      'gateway.log'
    ])
    expect(zipEntry(zip, 'claude.patch')).toBe('diff --git a/x b/x\n')
    const days = (Date.parse(stored?.expiresAt ?? '') - Date.now()) / 86_400_000
    expect(days).toBeGreaterThan(4.9)
    expect(days).toBeLessThan(5.1)
    // A later job finds it by name (the publish action does).
    useEnv(service.env('job-publish'))
    expect(await findArtifactUrl('claude-sandbox-agent-2')).toBe(outcome.url)
    expect(await findArtifactUrl('no-such-artifact')).toBeUndefined()
  })

  it('adds the job suffix when a matrix sibling took the derived name', async () => {
    const first = await uploadRunArtifact({
      settings: { enabled: true },
      files: files(),
      rootDirectory: dir,
      env: useEnv({ ...service.env('leg-1'), GITHUB_JOB: 'matrix' })
    })
    const env = useEnv({ ...service.env('leg-2'), GITHUB_JOB: 'matrix' })
    const second = await uploadRunArtifact({
      settings: { enabled: true },
      files: files(),
      rootDirectory: dir,
      env
    })
    expect(first).toMatchObject({ uploaded: true, name: 'claude-sandbox-matrix-2' })
    expect(second).toMatchObject({
      uploaded: true,
      name: `claude-sandbox-matrix-2-${jobSuffix(env)}`
    })
  })

  it('reports a refusal as a failure, at once', async () => {
    service.options.refuseWith = 403
    const started = Date.now()
    const outcome = await uploadRunArtifact({
      settings: { enabled: true, name: 'refused' },
      files: files(),
      rootDirectory: dir,
      env: useEnv(service.env('job-refused'))
    })
    expect(outcome).toMatchObject({ uploaded: false, failed: true })
    if (outcome.uploaded) throw new Error('uploaded')
    expect(outcome.reason).toContain('403')
    expect(outcome.files).toHaveLength(3)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('reports a service that does not listen as a failure', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>(resolve => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address()
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 9))
      })
    })
    const outcome = await uploadRunArtifact({
      settings: { enabled: true },
      files: files(),
      rootDirectory: dir,
      env: useEnv({ ...service.env('job-down'), ACTIONS_RESULTS_URL: `http://127.0.0.1:${port}/` })
    })
    expect(outcome).toMatchObject({ uploaded: false, failed: true })
    if (outcome.uploaded) throw new Error('uploaded')
    expect(outcome.reason).toContain('ECONNREFUSED')
  })

  it('skips without a failure when disabled or off a runner', async () => {
    const requestsBefore = service.requests.length
    const disabled = await uploadRunArtifact({
      settings: { enabled: false },
      files: files(),
      rootDirectory: dir,
      env: useEnv(service.env())
    })
    const local = await uploadRunArtifact({
      settings: { enabled: true },
      files: files(),
      rootDirectory: dir,
      env: useEnv({})
    })
    expect(disabled).toMatchObject({ uploaded: false, failed: false, reason: '`artifact: false`' })
    expect(local).toMatchObject({ uploaded: false, failed: false })
    expect(service.requests.length).toBe(requestsBefore)
  })
})
