import { spawn } from 'node:child_process'
import { engineGet, field } from './docker-engine.js'
import { ConfigurationError } from './errors.js'

/** The docker CLI, called without a shell; output captured, optionally streamed line by line. */
export interface DockerResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface DockerOptions {
  env?: NodeJS.ProcessEnv
  /** Called with each line of stdout and stderr as it arrives (build logs). */
  onLine?: (line: string) => void
  input?: string
  /** Kills the command after this long (a pull that a network policy leaves hanging). */
  timeoutMs?: number
}

/**
 * What one docker call keeps of its output. The commands the action runs print little (ids,
 * inspect JSON, versions), but a build's log is the Dockerfile's to decide: memory stays bounded
 * whatever it prints. stdout keeps its start (it is parsed), stderr its end (errors come last).
 */
const STDOUT_KEEP = 16 * 1024 * 1024
const STDERR_KEEP = 1024 * 1024
const LINE_KEEP = 64 * 1024

export function docker(args: string[], options: DockerOptions = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, {
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    const lineSplitter = () => {
      let pending = ''
      return (chunk: string, flush = false) => {
        if (!options.onLine) return
        pending += chunk
        const lines = pending.split('\n')
        pending = flush ? '' : (lines.pop() ?? '')
        // A line without an end is logged in pieces rather than held whole.
        if (pending.length > LINE_KEEP) {
          lines.push(pending)
          pending = ''
        }
        for (const line of lines) if (line !== '') options.onLine(line.slice(0, LINE_KEEP))
      }
    }
    const outLines = lineSplitter()
    const errLines = lineSplitter()
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < STDOUT_KEEP) stdout += chunk.slice(0, STDOUT_KEEP - stdout.length)
      outLines(chunk)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      // Cut only at twice the limit, so keeping the tail stays linear in what arrives.
      if (stderr.length > 2 * STDERR_KEEP) stderr = stderr.slice(-STDERR_KEEP)
      errLines(chunk)
    })
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new ConfigurationError(
            'The docker command is not installed on this runner',
            'Use a runner with Docker (GitHub-hosted ubuntu-latest has it), or install the Docker engine'
          )
        )
      } else reject(error)
    })
    let timedOut = false
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            child.kill('SIGKILL')
          }, options.timeoutMs)
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
    child.on('close', code => {
      if (timer) clearTimeout(timer)
      if (timedOut) stderr += `\ntimed out after ${Math.round((options.timeoutMs ?? 0) / 1000)} s`
      outLines('', true)
      errLines('', true)
      resolve({ exitCode: code ?? -1, stdout, stderr: stderr.slice(-STDERR_KEEP) })
    })
  })
}

/** Last non-empty lines of a command's output, for error messages. */
export function lastLines(text: string, count = 3): string {
  return text
    .split('\n')
    .map(line => line.trim())
    .filter(line => line !== '')
    .slice(-count)
    .join(' | ')
}

/** Fails with a clear instruction when no Docker daemon answers. Returns the server version. */
export async function requireDockerDaemon(): Promise<string> {
  // The local socket first (docker-engine.ts); the CLI when it is not ours or does not answer,
  // so the error below quotes what the CLI says.
  const answer = await engineGet('/version')
  const fromSocket = answer?.status === 200 ? field(answer.body, 'Version', 'string') : undefined
  if (fromSocket) return fromSocket
  const result = await docker(['version', '--format', '{{.Server.Version}}'])
  const version = result.stdout.trim()
  if (result.exitCode !== 0 || version === '') {
    throw new ConfigurationError(
      `No Docker daemon is reachable (${lastLines(result.stderr, 1) || 'docker version failed'})`,
      'Run on a runner with a Docker engine (GitHub-hosted ubuntu-latest has one), start dockerd, or set DOCKER_HOST'
    )
  }
  return version
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await imageId(ref)) !== undefined
}

/** What the action reads of an image on this runner. */
export interface ImageFacts {
  id: string
  /** `Config.Env` */
  env: string[]
  /** `Config.Labels` */
  labels: Record<string, string>
}

/**
 * The image's id and configuration, or undefined when there is no such image on this runner or
 * it cannot be read: from the Engine API on the local socket when it is ours to use (a few ms),
 * else from `docker image inspect` (the same document; a process of 0.1-0.3 s on two cores).
 */
export async function inspectImage(ref: string): Promise<ImageFacts | undefined> {
  const answer = await engineGet(`/images/${ref}/json`)
  if (answer?.status === 200) return imageFacts(answer.body)
  if (answer?.status === 404) return undefined
  const result = await docker(['image', 'inspect', '--format', '{{json .}}', ref])
  if (result.exitCode !== 0) return undefined
  try {
    return imageFacts(JSON.parse(result.stdout) as unknown)
  } catch {
    return undefined
  }
}

function imageFacts(document: unknown): ImageFacts | undefined {
  const id = field(document, 'Id', 'string')
  if (!id) return undefined
  const config = objectField(document, 'Config')
  const env = config?.Env
  const labels: Record<string, string> = {}
  for (const [name, value] of Object.entries(objectField(config, 'Labels') ?? {}))
    if (typeof value === 'string') labels[name] = value
  return {
    id,
    env: Array.isArray(env) ? env.filter((item): item is string => typeof item === 'string') : [],
    labels
  }
}

function objectField(value: unknown, name: string): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const inner = (value as Record<string, unknown>)[name]
  return typeof inner === 'object' && inner !== null
    ? (inner as Record<string, unknown>)
    : undefined
}

/** The image's id, or undefined when there is no such image on this runner. */
export async function imageId(ref: string): Promise<string | undefined> {
  return (await inspectImage(ref))?.id
}
