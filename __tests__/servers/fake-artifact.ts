/**
 * A local Actions artifact service, for driving the real @actions/artifact client (6.x): Twirp
 * JSON `github.actions.results.api.v1.ArtifactService/{CreateArtifact, FinalizeArtifact,
 * ListArtifacts, GetSignedArtifactURL, DeleteArtifact}` at ACTIONS_RESULTS_URL behind the runtime
 * token, and the zip uploaded to a signed URL with the block-blob semantics the cache stand-in
 * speaks (actions-results.ts, shared with it).
 *
 * The client reads the run's and the job's backend ids from the token's `scp` claim
 * (`Actions.Results:<run>:<job>`); the token here is an unsigned JWT carrying it, as the real
 * one carries it signed. Every request must name this run and a job the service issued a token
 * for. Artifact names are unique per run: a second CreateArtifact of a name answers 409, as
 * GitHub does ("an artifact with this name already exists on the workflow run").
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  checkFields,
  createBlobStore,
  invalid,
  isInt64String,
  isString,
  routeResultsRequest,
  TwirpError,
  type Json,
  type ServiceRequest
} from './actions-results.js'

export interface FakeArtifactOptions {
  /** Answer every request with a 500 (the client retries these, five attempts). */
  failWith500?: boolean
  /** Answer CreateArtifact with this status at once (403, say: the client does not retry it). */
  refuseWith?: number
}

export interface FakeArtifact {
  id: number
  name: string
  runId: string
  jobId: string
  blobName: string
  finalized: boolean
  sizeBytes?: number
  /** `sha256:<hex>` as the client computed it while uploading. */
  hash?: string
  /** RFC 3339, when the client asked for a retention period. */
  expiresAt?: string
  createdAt: string
}

export interface FakeArtifactService {
  url: string
  /** The run's backend id, the one every token of this service names. */
  runId: string
  /** ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN for one job of the run. */
  env(job?: string): Record<string, string>
  options: FakeArtifactOptions
  artifacts: FakeArtifact[]
  requests: ServiceRequest[]
  /** The zip as uploaded. */
  read(artifact: FakeArtifact): Promise<Buffer>
  close(): Promise<void>
}

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.ArtifactService/'
const ACCOUNT = 'fakeaccount'
const CONTAINER = 'actions-results'

const isTimestamp = (value: unknown): boolean =>
  typeof value === 'string' && !Number.isNaN(Date.parse(value))
const isInt32 = (value: unknown): boolean => Number.isInteger(value)

/** An unsigned JWT (`alg: none`) whose `scp` names the run and the job, as the runner's does. */
export function runtimeToken(runId: string, jobId: string): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({
    scp: `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:${runId}:${jobId}`,
    exp: Math.floor(Date.now() / 1000) + 3600
  })}.`
}

export async function startFakeArtifactService(
  initialOptions: FakeArtifactOptions = {}
): Promise<FakeArtifactService> {
  const runId = randomUUID()
  const blobDir = await mkdtemp(path.join(os.tmpdir(), 'fake-actions-artifacts-'))
  const options: FakeArtifactOptions = { ...initialOptions }
  const artifacts: FakeArtifact[] = []
  const requests: ServiceRequest[] = []
  /** token -> job backend id */
  const jobs = new Map<string, string>()
  let nextId = 4_000_001
  let baseUrl = ''

  const blobs = createBlobStore({
    dir: blobDir,
    account: ACCOUNT,
    container: CONTAINER,
    baseUrl: () => baseUrl,
    requests,
    failWith500: () => options.failWith500 === true,
    lookup: blobName => artifacts.find(artifact => artifact.blobName === blobName)
  })

  /** The run and job a request names must be this run and a job it gave a token to. */
  function requireIds(body: Json): { jobId: string } {
    const run = body['workflow_run_backend_id']
    const job = body['workflow_job_run_backend_id']
    if (run !== runId) throw invalid(`unknown workflow run ${String(run)}`)
    if (typeof job !== 'string' || ![...jobs.values()].includes(job)) {
      throw invalid(`unknown workflow job ${String(job)}`)
    }
    return { jobId: job }
  }

  const ids = { workflow_run_backend_id: isString, workflow_job_run_backend_id: isString }

  function createArtifact(body: Json): Json {
    checkFields(body, {
      ...ids,
      name: isString,
      expires_at: isTimestamp,
      version: isInt32,
      mime_type: isString
    })
    const { jobId } = requireIds(body)
    if (options.refuseWith) {
      throw new TwirpError(options.refuseWith, 'permission_denied', 'simulated refusal')
    }
    const name = body['name']
    if (typeof name !== 'string' || name === '') throw invalid('name is required')
    if (body['version'] !== 7) throw invalid(`unsupported version ${String(body['version'])}`)
    if (artifacts.some(artifact => artifact.name === name)) {
      throw new TwirpError(
        409,
        'already_exists',
        'an artifact with this name already exists on the workflow run'
      )
    }
    const id = nextId++
    const blobName = `${runId}-${id}-${randomBytes(6).toString('hex')}.zip`
    artifacts.push({
      id,
      name,
      runId,
      jobId,
      blobName,
      finalized: false,
      createdAt: new Date().toISOString(),
      ...(typeof body['expires_at'] === 'string' ? { expiresAt: body['expires_at'] } : {})
    })
    return { ok: true, signed_upload_url: blobs.signedUrl(blobName, 'cw') }
  }

  async function finalizeArtifact(body: Json): Promise<Json> {
    checkFields(body, { ...ids, name: isString, size: isInt64String, hash: isString })
    const { jobId } = requireIds(body)
    const artifact = artifacts.find(
      a => a.name === body['name'] && a.jobId === jobId && !a.finalized
    )
    if (!artifact)
      throw new TwirpError(404, 'not_found', `no pending artifact ${String(body['name'])}`)
    const size = Number(body['size'] ?? '0')
    const actual = await blobs.size(artifact.blobName)
    if (actual !== size) throw invalid(`uploaded ${actual} bytes, finalize says ${size}`)
    artifact.finalized = true
    artifact.sizeBytes = size
    if (typeof body['hash'] === 'string') artifact.hash = body['hash']
    return { ok: true, artifact_id: String(artifact.id) }
  }

  function listArtifacts(body: Json): Json {
    checkFields(body, { ...ids, name_filter: isString, id_filter: isInt64String })
    requireIds(body)
    // Run-scoped, as on GitHub: a later job sees what an earlier one uploaded.
    const listed = artifacts.filter(
      a =>
        a.finalized &&
        (body['name_filter'] === undefined || a.name === body['name_filter']) &&
        (body['id_filter'] === undefined || String(a.id) === body['id_filter'])
    )
    return {
      artifacts: listed.map(a => ({
        workflow_run_backend_id: a.runId,
        workflow_job_run_backend_id: a.jobId,
        database_id: String(a.id),
        name: a.name,
        size: String(a.sizeBytes ?? 0),
        created_at: a.createdAt,
        ...(a.hash ? { digest: a.hash } : {})
      }))
    }
  }

  function getSignedArtifactUrl(body: Json): Json {
    checkFields(body, { ...ids, name: isString })
    requireIds(body)
    const artifact = artifacts.find(a => a.finalized && a.name === body['name'])
    if (!artifact) throw new TwirpError(404, 'not_found', `no artifact ${String(body['name'])}`)
    return { signed_url: blobs.signedUrl(artifact.blobName, 'r') }
  }

  const defaultToken = runtimeToken(runId, randomUUID())
  const server = http.createServer(
    routeResultsRequest(
      {
        prefix: TWIRP_PREFIX,
        tokens: () => [...jobs.keys()],
        requests,
        failWith500: () => options.failWith500 === true,
        methods: {
          CreateArtifact: createArtifact,
          FinalizeArtifact: finalizeArtifact,
          ListArtifacts: listArtifacts,
          GetSignedArtifactURL: getSignedArtifactUrl
        }
      },
      blobs
    )
  )
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  baseUrl = `http://127.0.0.1:${port}/`

  const tokenFor = (job: string | undefined): string => {
    if (job === undefined) {
      const scope = JSON.parse(
        Buffer.from(defaultToken.split('.')[1] ?? '', 'base64url').toString('utf8')
      ) as { scp: string }
      jobs.set(defaultToken, scope.scp.split(':').at(-1) ?? '')
      return defaultToken
    }
    const existing = [...jobs.entries()].find(([, id]) => id === job)
    if (existing) return existing[0]
    const token = runtimeToken(runId, job)
    jobs.set(token, job)
    return token
  }

  return {
    url: baseUrl,
    runId,
    env: job => ({ ACTIONS_RESULTS_URL: baseUrl, ACTIONS_RUNTIME_TOKEN: tokenFor(job) }),
    options,
    artifacts,
    requests,
    read: artifact => readFile(blobs.blobPath(artifact.blobName)),
    async close(): Promise<void> {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await rm(blobDir, { recursive: true, force: true })
    }
  }
}
