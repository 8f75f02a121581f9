/**
 * Which conversation a run belongs to, and whether it continues an earlier one (pure).
 *
 * A conversation is the pull request or issue the trigger concerns, in one repository, workflow
 * and job. Its saved sessions are Actions cache entries; their keys name the conversation, and
 * also the origin of the run that saved them: `fork` when that run worked on a fork's pull
 * request (the agent read a stranger's code and text), `base` otherwise. A run only ever looks
 * for sessions of its own origin, so a session a fork's pull request shaped is never resumed by
 * a run with more privileges.
 */
import { createHash } from 'node:crypto'
import { ConfigurationError } from '../errors.js'

/** The `continue` input. */
export type ContinueSetting = { mode: 'auto' } | { mode: 'never' } | { mode: 'session'; id: string }

/** A Claude Code session id: a UUID (it names the transcript file and goes on the command line). */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value)
}

/** Parses `continue`: `auto` (default), `never`, or a session id. */
export function parseContinue(text: string): ContinueSetting {
  const value = text.trim()
  if (value === '' || value.toLowerCase() === 'auto') return { mode: 'auto' }
  if (value.toLowerCase() === 'never') return { mode: 'never' }
  if (isSessionId(value.toLowerCase())) return { mode: 'session', id: value.toLowerCase() }
  throw new ConfigurationError(
    `Input \`continue\` must be auto, never or a session id (a UUID such as the \`session-id\` output of an earlier run), got "${value.slice(0, 80)}"`
  )
}

/** `base`: a run on the repository's own code; `fork`: a run on a fork's pull request. */
export type Origin = 'base' | 'fork'

export interface ConversationScope {
  repository: string
  workflow: string
  job: string
  /** `pr-42` or `issue-7`; undefined when the trigger concerns neither (a schedule, a dispatch). */
  conversation?: string
  origin: Origin
}

/** What the trigger decision says about the conversation (a subset of TriggerDecision). */
export interface ConversationFacts {
  pullRequestNumber?: number
  issueNumber?: number
  /** The pull request's head lives in another repository. */
  fork?: boolean
}

export function scopeOf(
  facts: ConversationFacts,
  runner: { repository: string; workflow: string; job: string }
): ConversationScope {
  const conversation =
    facts.pullRequestNumber !== undefined && facts.pullRequestNumber > 0
      ? `pr-${facts.pullRequestNumber}`
      : facts.issueNumber !== undefined && facts.issueNumber > 0
        ? `issue-${facts.issueNumber}`
        : undefined
  return { ...runner, conversation, origin: facts.fork ? 'fork' : 'base' }
}

/** The readable name of a conversation, for the log. */
export function describeConversation(conversation: string | undefined): string {
  if (!conversation) return 'no pull request or issue'
  const [kind, number] = conversation.split('-')
  return kind === 'pr' ? `pull request #${number}` : `issue #${number}`
}

const KEY_PREFIX = 'claude-sandbox-session-v1'

/**
 * Everything before the conversation: the origin first, so that no prefix a run of one origin
 * looks up can ever match an entry of the other. Repository, workflow and job are hashed (names
 * may hold commas and spaces, which cache keys may not, and keys are limited to 512 characters).
 */
function keyBase(scope: ConversationScope): string {
  const where = createHash('sha256')
    .update(`${scope.repository}\0${scope.workflow}\0${scope.job}`)
    .digest('hex')
    .slice(0, 16)
  return `${KEY_PREFIX}-${scope.origin}-${where}`
}

/** Prefix of the entries of one conversation (newest first on lookup). */
export function conversationKeyPrefix(scope: ConversationScope): string | undefined {
  return scope.conversation ? `${keyBase(scope)}-${scope.conversation}-` : undefined
}

/** Prefix of the entries of one session, for `continue: <session id>`. */
export function sessionKeyPrefix(scope: ConversationScope, sessionId: string): string {
  return `${keyBase(scope)}-id-${sessionId}-`
}

/**
 * The keys a run saves its session under: one per lookup (by conversation, by session id), each
 * ending in the run's own id, since cache entries cannot be overwritten.
 */
export function saveKeys(scope: ConversationScope, sessionId: string, runId: string): string[] {
  const tail = runId.replace(/[^A-Za-z0-9_.-]/g, '_')
  const keys = [`${sessionKeyPrefix(scope, sessionId)}${tail}`]
  const conversation = conversationKeyPrefix(scope)
  if (conversation) keys.unshift(`${conversation}${tail}`)
  return keys
}

/** Whether to look for a saved session, and under which key prefix. */
export interface RestorePlan {
  /** Cache key prefix to restore; undefined: start afresh. */
  prefix?: string
  /** The session id the restored entry must hold (an explicit `continue`). */
  sessionId?: string
  /** One sentence for the log: what is looked for, or why the run starts afresh. */
  reason: string
}

export function planRestore(setting: ContinueSetting, scope: ConversationScope): RestorePlan {
  if (setting.mode === 'never') return { reason: 'continue: never, so this run starts afresh' }
  if (setting.mode === 'session') {
    return {
      prefix: sessionKeyPrefix(scope, setting.id),
      sessionId: setting.id,
      reason: `looking for the saved session ${setting.id} (continue: ${setting.id})`
    }
  }
  const prefix = conversationKeyPrefix(scope)
  if (!prefix) {
    return {
      reason:
        'this run is not on a pull request or issue, so there is no earlier conversation to continue'
    }
  }
  return {
    prefix,
    reason: `looking for a saved session of ${describeConversation(scope.conversation)}${scope.origin === 'fork' ? " (saved by runs on this fork's pull request)" : ''}`
  }
}

/** What a saved session records about itself (session.json in the cache entry). */
export interface SavedSession {
  version: 1
  sessionId: string
  origin: Origin
  repository: string
  workflow: string
  job: string
  conversation?: string
  /** The CLI's project directory name under ~/.claude/projects (`-workspace`). */
  projectDir: string
  /** The workflow run that saved it. */
  run: { id: string; attempt?: string; url?: string }
  /** HEAD of the working tree when the agent ran. */
  headSha?: string
  savedAt: string
  /** The gateway's figures for the whole conversation so far (this run's included). */
  totals: ConversationTotals
}

export interface ConversationTotals {
  runs: number
  turns: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  costUsd: number
}

const PROJECT_DIR = /^[A-Za-z0-9._-]{1,200}$/

/**
 * Reads session.json of a restored entry and checks it belongs where it was found: the same
 * repository, workflow, job and origin, the conversation (or session id) looked for. Anything
 * else (an entry written by someone else under a key it should not have) is refused with the
 * reason.
 */
export function checkSavedSession(
  value: unknown,
  scope: ConversationScope,
  plan: RestorePlan
): { session: SavedSession } | { refused: string } {
  const record =
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  if (record.version !== 1) return { refused: 'it was saved by another version of the action' }
  if (!isSessionId(record.sessionId)) return { refused: 'it names no valid session id' }
  if (typeof record.projectDir !== 'string' || !PROJECT_DIR.test(record.projectDir)) {
    return { refused: 'its project directory name is not a plain name' }
  }
  if (record.origin !== scope.origin) {
    return { refused: `it was saved by a run of another origin (${String(record.origin)})` }
  }
  for (const field of ['repository', 'workflow', 'job'] as const) {
    if (record[field] !== scope[field]) return { refused: `it was saved for another ${field}` }
  }
  if (plan.sessionId !== undefined) {
    if (record.sessionId !== plan.sessionId) return { refused: 'it holds another session' }
  } else if (record.conversation !== scope.conversation) {
    return { refused: 'it was saved for another conversation' }
  }
  const run = typeof record.run === 'object' && record.run !== null ? record.run : {}
  const runId = (run as Record<string, unknown>).id
  if (typeof runId !== 'string' || runId === '') return { refused: 'it names no run' }
  return { session: record as unknown as SavedSession }
}

/** The conversation's totals after this run. */
export function addTotals(
  before: ConversationTotals | undefined,
  run: Omit<ConversationTotals, 'runs'>
): ConversationTotals {
  const base = before ?? {
    runs: 0,
    turns: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costUsd: 0
  }
  return {
    runs: base.runs + 1,
    turns: base.turns + run.turns,
    inputTokens: base.inputTokens + run.inputTokens,
    outputTokens: base.outputTokens + run.outputTokens,
    cacheReadTokens: base.cacheReadTokens + run.cacheReadTokens,
    cacheWriteTokens: base.cacheWriteTokens + run.cacheWriteTokens,
    costUsd: Math.round((base.costUsd + run.costUsd) * 1e6) / 1e6
  }
}
