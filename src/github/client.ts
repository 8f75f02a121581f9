import { getOctokit } from '@actions/github'
import { retry } from '@octokit/plugin-retry'
import { throttling } from '@octokit/plugin-throttling'
import type Bottleneck from 'bottleneck'
import { ConfigurationError } from '../errors.js'

/**
 * The Octokit used for publishing: @actions/github's client (proxy-aware, GitHub Enterprise
 * Server-ready through GITHUB_API_URL) with retries for 5xx answers and GitHub's rate-limit
 * etiquette (writes one at a time, a second apart; waits out rate limits a few times).
 */
export type GitHubClient = ReturnType<typeof getOctokit>

export interface Logger {
  info(message: string): void
  warning(message: string): void
}

export interface ClientOptions {
  token: string
  /** REST API root; GITHUB_API_URL, else https://api.github.com. */
  baseUrl?: string
  log?: Logger
  /** Attempts after the first for a 5xx or network failure (default 3). */
  retries?: number
  /** Unit of the retry back-off: waits are 1, 4, 9 ... times this (default 1000 ms). */
  retryBaseMs?: number
  /**
   * Replace the throttling plugin's queues: writes go one at a time a second apart, and writes
   * that notify people (comments, pull requests) three seconds apart, which is what GitHub asks
   * of integrations. Tests pass faster ones; production leaves them alone.
   */
  limiters?: { write?: Bottleneck.Group; notifications?: Bottleneck.Group }
}

const silent: Logger = { info: () => undefined, warning: () => undefined }

export function apiBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '')
}

export function createGitHubClient(options: ClientOptions): GitHubClient {
  const log = options.log ?? silent
  const limitHandler =
    (kind: string) =>
    (
      retryAfter: number,
      request: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number
    ): boolean => {
      const retrying = retryCount < 2 && retryAfter <= 120
      log.warning(
        `GitHub ${kind} rate limit hit on ${request.method ?? ''} ${request.url ?? ''}; ` +
          (retrying ? `retrying in ${retryAfter} s` : 'giving up')
      )
      return retrying
    }
  return getOctokit(
    options.token,
    {
      baseUrl: options.baseUrl ?? apiBaseUrl(),
      retry: {
        retries: options.retries ?? 3,
        ...(options.retryBaseMs === undefined ? {} : { retryAfterBaseValue: options.retryBaseMs }),
        // 422 covers "the branch moved" and validation errors: retrying cannot change them.
        doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451]
      },
      throttle: {
        onRateLimit: limitHandler('primary'),
        onSecondaryRateLimit: limitHandler('secondary'),
        ...(options.limiters?.write ? { write: options.limiters.write } : {}),
        ...(options.limiters?.notifications
          ? { notifications: options.limiters.notifications }
          : {})
      },
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => log.warning(message),
        error: () => undefined
      }
    },
    retry,
    throttling
  )
}

// ---- errors ----------------------------------------------------------------------------------

export interface HttpErrorLike {
  status: number
  message: string
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown }
}

export function isHttpError(error: unknown): error is HttpErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    typeof (error as { message?: unknown }).message === 'string'
  )
}

/** What a request was for, and the `permissions:` entries a GITHUB_TOKEN needs to make it. */
export interface Operation {
  /** Completes "GitHub refused to ...", e.g. "create the comment on #12". */
  what: string
  /** As written under `permissions:` in a workflow, e.g. ['pull-requests: write']. */
  permissions: string[]
}

/** GitHub's own message, without its documentation link. */
function githubMessage(error: HttpErrorLike): string {
  const data = error.response?.data as { message?: unknown; errors?: unknown } | undefined
  const base =
    typeof data?.message === 'string'
      ? data.message
      : error.message.replace(/ - https?:\/\/\S+$/, '')
  const details = Array.isArray(data?.errors)
    ? (data.errors as Array<{ message?: unknown }>)
        .map(e => (typeof e?.message === 'string' ? e.message : ''))
        .filter(Boolean)
    : []
  return [base, ...details].join(': ')
}

function permissionsYaml(permissions: string[]): string {
  return permissions.map(p => `\`${p}\``).join(' and ')
}

/**
 * Turns a refused request into a ConfigurationError that names the missing permission and the
 * fix; anything else is returned unchanged. 404 counts because GitHub answers 404 rather than
 * 403 when a token may not see a private repository or resource at all.
 */
export function explainRequestError(error: unknown, op: Operation): unknown {
  if (!isHttpError(error)) return error
  const message = githubMessage(error)
  const job = `add \`permissions:\` with ${permissionsYaml(op.permissions)} to the job (or pass a token that has them in \`github-token\`)`
  if (error.status === 401) {
    return new ConfigurationError(
      `GitHub rejected the token while trying to ${op.what} (401: ${message})`,
      'Check `github-token`: it is empty, expired or revoked'
    )
  }
  if (error.status === 403 && /not permitted to create or approve pull requests/i.test(message)) {
    return new ConfigurationError(
      `GitHub refused to ${op.what} (403): ${message}`,
      'Allow it in the repository (or organization) settings: Actions > General > Workflow permissions > ' +
        '"Allow GitHub Actions to create and approve pull requests", or pass a token that may open pull requests in `github-token`'
    )
  }
  if (error.status === 403 && /rate limit/i.test(message)) {
    return new Error(`GitHub rate limit while trying to ${op.what} (403: ${message}); rerun later`)
  }
  if (error.status === 403) {
    const header = error.response?.headers?.['x-accepted-github-permissions']
    const accepted = header ? ` (GitHub accepts: ${String(header)})` : ''
    return new ConfigurationError(
      `GitHub refused to ${op.what} (403: ${message}): the token needs ${permissionsYaml(op.permissions)}${accepted}`,
      `Fix: ${job}`
    )
  }
  if (error.status === 404) {
    return new ConfigurationError(
      `GitHub answered 404 when trying to ${op.what}: the token cannot see it, or lacks ${permissionsYaml(op.permissions)}`,
      `Check the repository and branch names, then ${job}`
    )
  }
  return error
}

/** Runs one request (or a few) for `op`, explaining a refusal. */
export async function attempt<T>(op: Operation, request: () => Promise<T>): Promise<T> {
  try {
    return await request()
  } catch (error: unknown) {
    throw explainRequestError(error, op)
  }
}
