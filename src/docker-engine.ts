import { readFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

/**
 * The Docker Engine API on the local Unix socket, for the quick questions a run asks on its way
 * to the agent's first request (is a daemon there, is this image here, which process is this
 * container). Each `docker` CLI call costs a Go process start, 50-200 ms of CPU on a two-core
 * runner, and the start path asked four of them before `docker run` and two more while the CLI
 * was starting in its container (issue 22). A GET on the socket costs a few milliseconds.
 *
 * Only where the CLI would use the same socket: DOCKER_HOST unset or `unix://`, and no Docker
 * context chosen (DOCKER_CONTEXT, or `currentContext` in the CLI's config). Anywhere else (TCP,
 * SSH, a context, TLS settings) the answer is `undefined` and the caller asks the CLI, which
 * knows those. A socket that cannot be reached also answers `undefined`: the CLI then gives the
 * error the user knows (and the remedy we add to it).
 */
export interface EngineAnswer {
  status: number
  body: unknown
}

const DEFAULT_SOCKET = '/var/run/docker.sock'
/** Longer than any answer these reads should take; the CLI is the fallback past it. */
const TIMEOUT_MS = 5_000

/** The socket the docker CLI would talk to, when it is a local Unix socket we can use as well. */
export function engineSocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DOCKER_CONTEXT || env.DOCKER_TLS_VERIFY || env.DOCKER_CERT_PATH) return undefined
  const host = env.DOCKER_HOST
  if (host && !host.startsWith('unix://')) return undefined
  if (cliContextChosen(env)) return undefined
  return host ? host.slice('unix://'.length) : DEFAULT_SOCKET
}

function cliContextChosen(env: NodeJS.ProcessEnv): boolean {
  const configDir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker')
  let text: string
  try {
    text = readFileSync(path.join(configDir, 'config.json'), 'utf8')
  } catch {
    return false // no config: the default context
  }
  try {
    const context = (JSON.parse(text) as { currentContext?: unknown }).currentContext
    return typeof context === 'string' && context !== '' && context !== 'default'
  } catch {
    return true // a config we cannot read: leave it to the CLI
  }
}

/**
 * GET `apiPath` from the engine. Undefined when the socket is not ours to use or does not
 * answer (the caller falls back to the CLI); otherwise the status and the parsed JSON body.
 */
export function engineGet(
  apiPath: string,
  env: NodeJS.ProcessEnv = process.env
): Promise<EngineAnswer | undefined> {
  const socketPath = engineSocket(env)
  if (!socketPath) return Promise.resolve(undefined)
  return new Promise(resolve => {
    const request = http.get(
      { socketPath, path: apiPath, headers: { Host: 'docker' }, timeout: TIMEOUT_MS },
      response => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', () => resolve(undefined))
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // an error page or plain text: kept as it is
          }
          resolve({ status: response.statusCode ?? 0, body })
        })
      }
    )
    request.on('timeout', () => request.destroy())
    request.on('error', () => resolve(undefined))
  })
}

/** A field of a JSON object answer, when it has that type. */
export function field<T extends 'string' | 'number'>(
  body: unknown,
  name: string,
  type: T
): (T extends 'string' ? string : number) | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const value = (body as Record<string, unknown>)[name]
  return typeof value === type ? (value as T extends 'string' ? string : number) : undefined
}
