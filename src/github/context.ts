import { readFileSync } from 'node:fs'
import { ConfigurationError } from '../errors.js'
import type { PublishMode } from '../settings.js'
import { apiBaseUrl } from './client.js'

/** Where and why the workflow runs: what publishing needs to know from the runner. */
export interface PublishContext {
  owner: string
  repo: string
  eventName: string
  /** The webhook payload (GITHUB_EVENT_PATH), or {} when there is none. */
  payload: Record<string, unknown>
  workflow: string
  job: string
  runId: string
  runAttempt?: string
  /** Web root, e.g. https://github.com (GITHUB_SERVER_URL). */
  serverUrl: string
  /** REST API root (GITHUB_API_URL). */
  apiUrl: string
  /** GITHUB_REF, e.g. refs/heads/main. */
  ref?: string
  /** GITHUB_SHA: the commit the workflow was started for. */
  sha?: string
}

export type ResolvedPublishMode = Exclude<PublishMode, 'auto'>

/** Builds the context from the runner's environment (the runner contract in the design). */
export function contextFromEnv(env: NodeJS.ProcessEnv = process.env): PublishContext {
  const repository = env.GITHUB_REPOSITORY ?? ''
  const [owner, repo] = repository.split('/')
  if (!owner || !repo) {
    throw new ConfigurationError(
      `GITHUB_REPOSITORY is ${repository ? `"${repository}"` : 'not set'}`,
      'Run this action in a GitHub Actions job (it needs the runner environment)'
    )
  }
  let payload: Record<string, unknown> = {}
  const eventPath = env.GITHUB_EVENT_PATH
  if (eventPath) {
    try {
      payload = JSON.parse(readFileSync(eventPath, 'utf8')) as Record<string, unknown>
    } catch (error: unknown) {
      throw new ConfigurationError(
        `Cannot read the event payload at GITHUB_EVENT_PATH (${eventPath}): ${String(error)}`
      )
    }
  }
  const context: PublishContext = {
    owner,
    repo,
    eventName: env.GITHUB_EVENT_NAME ?? '',
    payload,
    workflow: env.GITHUB_WORKFLOW ?? 'workflow',
    job: env.GITHUB_JOB ?? 'job',
    runId: env.GITHUB_RUN_ID ?? '',
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, ''),
    apiUrl: apiBaseUrl(env)
  }
  if (env.GITHUB_RUN_ATTEMPT) context.runAttempt = env.GITHUB_RUN_ATTEMPT
  if (env.GITHUB_REF) context.ref = env.GITHUB_REF
  if (env.GITHUB_SHA) context.sha = env.GITHUB_SHA
  return context
}

export function runUrl(context: PublishContext): string {
  return `${context.serverUrl}/${context.owner}/${context.repo}/actions/runs/${context.runId}`
}

type Json = Record<string, unknown>

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null ? (value as Json) : undefined
}

/** The pull request the event is about: its payload, or the issue a PR comment was made on. */
export function pullRequestNumber(context: PublishContext): number | undefined {
  const pr = object(context.payload.pull_request)
  if (pr && typeof pr.number === 'number') return pr.number
  const issue = object(context.payload.issue)
  if (issue && object(issue.pull_request) && typeof issue.number === 'number') return issue.number
  // workflow_run: the pull request of this repository the failed run was for.
  const listed = object(context.payload.workflow_run)?.pull_requests
  const first = Array.isArray(listed) ? object(listed[0]) : undefined
  if (first && typeof first.number === 'number') return first.number
  return undefined
}

/** The issue or pull request a comment can go to. */
export function issueNumber(context: PublishContext): number | undefined {
  const pr = pullRequestNumber(context)
  if (pr !== undefined) return pr
  const issue = object(context.payload.issue)
  return issue && typeof issue.number === 'number' ? issue.number : undefined
}

/** `auto`: a comment on a pull request, a pull request otherwise. */
export function resolvePublishMode(
  mode: PublishMode,
  context: PublishContext
): ResolvedPublishMode {
  if (mode !== 'auto') return mode
  return pullRequestNumber(context) !== undefined ? 'comment' : 'pull-request'
}

/**
 * A comment or a review goes out whatever the conclusion (it says what happened; a review of an
 * agent that did not succeed shows its change as a diff, with no suggestions); a commit or a
 * pull request carries only the work of an agent that succeeded: a timed-out or failed agent's
 * partial change, or one whose verdict is unknown, stays in the patch for a person to look at.
 */
export function publishesFor(mode: ResolvedPublishMode, conclusion: string): boolean {
  if (mode === 'patch') return false
  return mode === 'comment' || mode === 'review' || conclusion === 'success'
}

export function reviewNeedsPullRequest(eventName: string): ConfigurationError {
  return new ConfigurationError(
    `publish: review needs a pull request, and the ${eventName || 'current'} event is not about one. Nothing was published`,
    'Run it on pull_request (or a comment on a pull request), or use publish: auto, which comments on pull requests and opens a pull request otherwise'
  )
}

/**
 * Refuses, before the agent runs, a publishing mode this event cannot have: publish: review
 * outside a pull request. Other modes decide at publishing time (a comment without an issue
 * falls back to the patch, commit needs a branch).
 */
export function requirePublishTarget(
  mode: PublishMode,
  env: NodeJS.ProcessEnv = process.env
): void {
  if (mode !== 'review') return
  const context = contextFromEnv(env)
  if (pullRequestNumber(context) === undefined) throw reviewNeedsPullRequest(context.eventName)
}
