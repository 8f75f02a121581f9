/**
 * The run's result as one workflow artifact: the patch, the transcript and the gateway and
 * network logs, uploaded with the toolkit's own client (@actions/artifact), so a reviewer gets
 * them one click away from the job summary and the pull request comment instead of as paths on a
 * runner that is gone by the time anyone reads them.
 *
 * An upload never costs the result: every failure is reported back (main.ts warns) and the files
 * stay where they are. Outside a runner (the local CLI, the demo) there is no artifact service,
 * and the upload is skipped with a note rather than a warning.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import * as core from '@actions/core'
import { Outputs } from '../constants.js'
import { errorMessage } from '../errors.js'
import type { RunPaths } from '../run-paths.js'
import type { ArtifactSettings } from '../settings.js'

export type ArtifactOutcome =
  | {
      uploaded: true
      id: number
      name: string
      /** The artifact's page: `…/actions/runs/<run>/artifacts/<id>`. */
      url: string
      sizeBytes?: number
      /** Base names of the files in the zip. */
      files: string[]
    }
  | {
      uploaded: false
      /** Why not, as a sentence fragment ("artifact: false", the service's error...). */
      reason: string
      /** True when this is a failure the user should be warned about (not a choice or a local run). */
      failed: boolean
      /** The files that would have been uploaded, where they are now. */
      files: string[]
    }

/** The part of the toolkit client used here (tests and the publish action pass their own). */
export interface ArtifactUploader {
  uploadArtifact(
    name: string,
    files: string[],
    rootDirectory: string,
    options?: { retentionDays?: number }
  ): Promise<{ id?: number; size?: number }>
}

export interface ArtifactFinder {
  getArtifact(name: string): Promise<{ artifact: { id: number; name: string } }>
}

/** Characters the artifact service refuses in a name (the toolkit's own list). */
export const INVALID_NAME_CHARACTERS = /[":<>|*?\\/\r\n]/g

/**
 * `claude-sandbox-<job>-<attempt>`: one artifact per job and attempt, so a rerun does not collide
 * with the artifact of the attempt before it. Matrix legs share the job id; the service refuses
 * their second upload of a name (409), and uploadRunArtifact then adds a suffix of its own.
 */
export function defaultArtifactName(env: NodeJS.ProcessEnv = process.env): string {
  const job = (env.GITHUB_JOB || 'job').replace(INVALID_NAME_CHARACTERS, '-')
  return `claude-sandbox-${job}-${env.GITHUB_RUN_ATTEMPT || '1'}`
}

/** `$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`, when the runner says. */
export function runPageUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined
  return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
}

/** The artifact's own page (what actions/upload-artifact prints as `artifact-url`). */
export function artifactPageUrl(id: number, env: NodeJS.ProcessEnv = process.env): string {
  return `${runPageUrl(env) ?? 'https://github.com'}/artifacts/${id}`
}

/** True where an artifact service is reachable at all: a runner gives every step these two. */
export function hasArtifactService(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL)
}

/**
 * GitHub Enterprise Server has no artifact service for this client (upload-artifact@v4 is not
 * supported there either); the same host test as the toolkit's, so the client's own multi-line
 * warning never fires.
 */
export function isEnterpriseServer(env: NodeJS.ProcessEnv = process.env): boolean {
  const host = new URL(env.GITHUB_SERVER_URL || 'https://github.com').hostname.toLowerCase()
  return !(host === 'github.com' || host.endsWith('.ghe.com') || host.endsWith('.localhost'))
}

/**
 * A suffix that tells this job's upload apart from a matrix sibling's: a hash of the job's own
 * id in the runtime token's `Actions.Results:<run>:<job>` scope, and of the step.
 */
export function jobSuffix(env: NodeJS.ProcessEnv = process.env): string {
  let jobId = ''
  try {
    const payload = (env.ACTIONS_RUNTIME_TOKEN ?? '').split('.')[1] ?? ''
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      scp?: unknown
    }
    const scope = String(claims.scp ?? '')
      .split(' ')
      .find(part => part.startsWith('Actions.Results:'))
    jobId = scope?.split(':')[2] ?? ''
  } catch {
    // No readable token: the step name and the time still make a distinct name.
    jobId = String(Date.now())
  }
  return createHash('sha256')
    .update(`${jobId}\0${env.GITHUB_ACTION ?? ''}`)
    .digest('hex')
    .slice(0, 8)
}

function isNameConflict(error: unknown): boolean {
  return /\(409\)|already exists/i.test(errorMessage(error))
}

/** The toolkit's messages carry a multi-line hint for self-hosted runners; the first line says it. */
function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text
}

export interface UploadRequest {
  settings: ArtifactSettings
  /** Absolute paths; those that do not exist (no network log in open mode) are left out. */
  files: string[]
  /** The directory the files are in; the zip holds their paths relative to it. */
  rootDirectory: string
  env?: NodeJS.ProcessEnv
  client?: ArtifactUploader
  log?: { info(message: string): void }
}

/** Uploads the run's files as one artifact; never throws. */
export async function uploadRunArtifact(request: UploadRequest): Promise<ArtifactOutcome> {
  const env = request.env ?? process.env
  const files = request.files.filter(file => existsSync(file))
  const notUploaded = (reason: string, failed: boolean): ArtifactOutcome => ({
    uploaded: false,
    reason,
    failed,
    files
  })
  if (!request.settings.enabled) return notUploaded('`artifact: false`', false)
  if (!hasArtifactService(env)) {
    return notUploaded('no artifact service here (not a GitHub Actions runner)', false)
  }
  if (isEnterpriseServer(env)) {
    return notUploaded('GitHub Enterprise Server has no artifact service for this client', true)
  }
  if (files.length === 0) return notUploaded('the run left no files', true)
  const client = request.client ?? (await defaultClient())
  const options =
    request.settings.retentionDays === undefined
      ? {}
      : { retentionDays: request.settings.retentionDays }
  const upload = async (name: string): Promise<ArtifactOutcome> => {
    const result = await client.uploadArtifact(name, files, request.rootDirectory, options)
    if (result.id === undefined) throw new Error('the service returned no artifact id')
    return {
      uploaded: true,
      id: result.id,
      name,
      url: artifactPageUrl(result.id, env),
      ...(result.size === undefined ? {} : { sizeBytes: result.size }),
      files: files.map(file => path.relative(request.rootDirectory, file))
    }
  }
  const name = request.settings.name ?? defaultArtifactName(env)
  try {
    return await upload(name)
  } catch (error: unknown) {
    // A matrix sibling (or an earlier step of this job) took the derived name: add our own suffix.
    if (request.settings.name === undefined && isNameConflict(error)) {
      const unique = `${name}-${jobSuffix(env)}`
      request.log?.info(`The artifact name ${name} is taken in this run; using ${unique}`)
      try {
        return await upload(unique)
      } catch (retryError: unknown) {
        return notUploaded(firstLine(errorMessage(retryError)), true)
      }
    }
    return notUploaded(firstLine(errorMessage(error)), true)
  }
}

/**
 * The page of an artifact uploaded earlier in this run, found by name (the publish action, in a
 * later job, knows only the name). Undefined when there is no service or no such artifact.
 */
export async function findArtifactUrl(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  finder?: ArtifactFinder
): Promise<string | undefined> {
  if (!hasArtifactService(env) || isEnterpriseServer(env)) return undefined
  try {
    const client = finder ?? (await defaultClient())
    const { artifact } = await client.getArtifact(name)
    return artifactPageUrl(artifact.id, env)
  } catch {
    return undefined
  }
}

/**
 * The main step's artifact phase: uploads the run's files, sets `artifact-id`, `artifact-url`
 * and `artifact-name`, and warns when an upload that should have worked did not. Runs after the
 * patch is made and before publishing, so the comment can link the artifact.
 */
export async function uploadResultArtifact(
  settings: ArtifactSettings,
  paths: RunPaths
): Promise<ArtifactOutcome> {
  const files = [
    paths.patchPath,
    paths.executionFile,
    paths.gatewayLog,
    paths.networkLog,
    // Beside a patch holding possible secrets: what the scan found (src/secrets/run-scan.ts).
    `${paths.patchPath}.secret-scan.txt`
  ]
  const upload = (): Promise<ArtifactOutcome> =>
    uploadRunArtifact({
      settings,
      files,
      rootDirectory: paths.outDir,
      log: { info: message => core.info(message) }
    })
  // The client logs every step of an upload; a skipped one needs no group.
  const uploading = settings.enabled && hasArtifactService()
  if (uploading) core.startGroup('Uploading the patch, the transcript and the logs as an artifact')
  let outcome: ArtifactOutcome
  try {
    outcome = await upload()
  } finally {
    if (uploading) core.endGroup()
  }
  if (outcome.uploaded) {
    core.setOutput(Outputs.artifactId, String(outcome.id))
    core.setOutput(Outputs.artifactUrl, outcome.url)
    core.setOutput(Outputs.artifactName, outcome.name)
    core.info(`Artifact ${outcome.name} (${outcome.files.join(', ')}): ${outcome.url}`)
  } else if (outcome.failed) {
    core.warning(
      `The artifact was not uploaded (${outcome.reason}); the patch and the transcript are kept on the runner in ${paths.outDir}`
    )
  } else {
    core.info(`No artifact: ${outcome.reason}; the files are in ${paths.outDir}`)
  }
  return outcome
}

/**
 * The artifact client, loaded when an upload or a look-up is due: with the Azure storage
 * library under it, it is the largest part of the bundle, which every run would otherwise parse
 * before its first line (issue 22).
 */
async function defaultClient(): Promise<ArtifactUploader & ArtifactFinder> {
  const { DefaultArtifactClient } = await import('@actions/artifact')
  return new DefaultArtifactClient()
}
