/**
 * Follow-ups continue the conversation. Two phases of a run:
 * - openConversation, before the sandbox: gives the container a run-private directory for the
 *   CLI's session transcripts (`~/.claude/projects`), and, when `continue` says so and a session
 *   of this conversation was saved by a run of the same origin, restores it there, has the CLI
 *   run with `--resume`, tells the agent what was pushed since, and keeps the sticky comment's
 *   earlier runs for the follow-up section.
 * - keepConversation, after the sandbox: saves the session's transcript as an Actions cache entry
 *   scoped to the conversation, bounded in size and checked for the run's known secrets.
 * Neither fails the run: what goes wrong is a warning and a fresh start (or an unsaved session).
 */
import * as core from '@actions/core'
import { chown, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { ApiFigures } from '../api-door/api-ledger.js'
import { Outputs } from '../constants.js'
import { errorMessage } from '../errors.js'
import { createGit } from '../git/git.js'
import { contextFromEnv, runUrl } from '../github/context.js'
import type { RunPaths } from '../run-paths.js'
import { agentUser } from '../sandbox/workspace.js'
import type { Settings } from '../settings.js'
import type { TriggerDecision } from '../triggers/event.js'
import { branchMoveNote, branchMoveSince, type BranchMove } from './branch-moved.js'
import { renderConversationReport, type ConversationReport } from './report.js'
import {
  addTotals,
  checkSavedSession,
  describeConversation,
  isSessionId,
  planRestore,
  saveKeys,
  scopeOf,
  type ConversationScope,
  type SavedSession
} from './scope.js'
import { filesWithKnownSecrets } from './secret-check.js'
import type { KnownSecrets } from '../secrets/scan.js'
import {
  copySessionFiles,
  findSessionFiles,
  installSessionFiles,
  plainTree,
  readJsonNoFollow
} from './session-files.js'
import {
  removeSessionEntry,
  restoreSessionEntry,
  saveSessionEntry,
  sessionEntryDir,
  sessionStoreAvailable
} from './store.js'
import type { CommentThread } from './thread.js'
import { readCommentThread } from './comment-thread.js'

/** What the run knows about its conversation between the two phases. */
export interface Conversation {
  scope: ConversationScope
  /** Host directory mounted read-write at `~/.claude/projects` in the container. */
  projectsDir: string
  /** The saved session this run continues. */
  resumed?: SavedSession
  freshReason?: string
  move?: BranchMove
  /** HEAD when the agent started, recorded with the session. */
  headSha?: string
  /** The sticky comment's earlier runs, for the follow-up section (publish: comment). */
  thread?: CommentThread
}

const log = { info: (m: string) => core.info(m), warning: (m: string) => core.warning(m) }

export async function openConversation(input: {
  settings: Settings
  decision: TriggerDecision
  paths: RunPaths
  env?: NodeJS.ProcessEnv
}): Promise<Conversation> {
  const { settings, decision, paths } = input
  const env = input.env ?? process.env
  const scope = scopeOf(
    {
      pullRequestNumber: decision.pullRequest?.number ?? decision.pullRequestNumber,
      issueNumber: decision.issueNumber,
      fork: decision.pullRequest?.isFork === true
    },
    {
      repository: env.GITHUB_REPOSITORY ?? '',
      workflow: env.GITHUB_WORKFLOW ?? 'workflow',
      job: env.GITHUB_JOB ?? 'job'
    }
  )
  const projectsDir = path.join(paths.workDir, 'claude-projects')
  await mkdir(projectsDir, { recursive: true, mode: 0o700 })
  const { user, lendWorkspace } = agentUser()
  // On a root runner the agent is the image's user: the directory is lent to it, like the tree.
  const owner = lendWorkspace ? user : undefined
  if (owner) await chown(projectsDir, owner.uid, owner.gid)
  const headSha = await currentHead(settings.sandbox.workspace)
  const conversation: Conversation = { scope, projectsDir, headSha }

  const plan = planRestore(settings.conversation, scope)
  const fresh = (reason: string, warn = false): Conversation => {
    if (warn) core.warning(`Not resuming: ${reason}; this run starts afresh`)
    else core.info(`Conversation: ${reason}`)
    return { ...conversation, freshReason: reason }
  }
  if (!plan.prefix) return fresh(plan.reason)
  const explicit = plan.sessionId !== undefined
  if (!sessionStoreAvailable()) {
    return fresh(
      'the Actions cache service is not available here, so no session was saved',
      explicit
    )
  }
  core.info(`Conversation: ${plan.reason}`)
  const entryDir = sessionEntryDir(env)
  try {
    const key = await restoreSessionEntry(entryDir, plan.prefix, log)
    if (!key) {
      return fresh(
        explicit
          ? `no saved session ${plan.sessionId ?? ''} of this workflow and job from a run of the same origin (${scope.origin})`
          : `no saved session of ${describeConversation(scope.conversation)} for this workflow and job`,
        explicit
      )
    }
    const checked = checkSavedSession(
      await readJsonNoFollow(path.join(entryDir, 'session.json')),
      scope,
      plan
    )
    if ('refused' in checked)
      return fresh(`the saved session ${key} was refused: ${checked.refused}`, true)
    const saved = checked.session
    const transcript = path.join(entryDir, 'transcript')
    const files = await plainTree(transcript)
    if (!files.includes(path.join(saved.projectDir, `${saved.sessionId}.jsonl`))) {
      return fresh(`the saved session ${key} holds no transcript`, true)
    }
    await installSessionFiles(transcript, files, projectsDir, owner)
    const move = await branchMoveSince(settings.sandbox.workspace, saved.headSha).catch(
      (error: unknown): BranchMove => {
        core.warning(
          `Could not list the commits pushed since the saved session: ${errorMessage(error)}`
        )
        return { moved: false }
      }
    )
    const note = branchMoveNote(move)
    if (note) settings.task.prompt = `${note}\n\n${settings.task.prompt}`
    settings.task.resumeSessionId = saved.sessionId
    core.setOutput(Outputs.resumedFrom, saved.run.id)
    core.info(
      `Resuming session ${saved.sessionId} of run ${saved.run.id} (${describeConversation(saved.conversation)}, saved ${saved.savedAt})`
    )
    return {
      ...conversation,
      resumed: saved,
      move,
      thread: await readCommentThread(
        settings.publish,
        { runId: saved.run.id, ...(saved.run.url ? { runUrl: saved.run.url } : {}) },
        env
      )
    }
  } catch (error: unknown) {
    return fresh(`the saved session could not be restored (${errorMessage(error)})`, true)
  } finally {
    await removeSessionEntry(entryDir)
  }
}

async function currentHead(workspace: string): Promise<string | undefined> {
  const result = await createGit(workspace)
    .tryRun(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
    .catch(() => undefined)
  const sha = result?.stdout.toString('utf8').trim()
  return sha ? sha : undefined
}

/** Saves the session for a follow-up; returns the summary's account of the conversation. */
export async function keepConversation(
  conversation: Conversation,
  input: {
    settings: Settings
    api: ApiFigures
    paths: RunPaths
    /** The run's known secret values (src/secrets/): a session holding one is not saved. */
    known: KnownSecrets
    env?: NodeJS.ProcessEnv
  }
): Promise<string> {
  const { api, paths, known } = input
  const env = input.env ?? process.env
  const run = runTokens(api)
  const report: ConversationReport = {
    ...(conversation.resumed ? { resumed: conversation.resumed } : {}),
    ...(conversation.freshReason ? { freshReason: conversation.freshReason } : {}),
    ...(conversation.move?.moved
      ? {
          newCommits:
            'commits' in conversation.move
              ? conversation.move.commits.length + conversation.move.more
              : -1
        }
      : {}),
    run,
    saved: await saveSession(conversation, api, paths, known, env)
  }
  if (report.saved.ok) core.info('The session was saved for a follow-up')
  return renderConversationReport(report)
}

async function saveSession(
  conversation: Conversation,
  api: ApiFigures,
  paths: RunPaths,
  known: KnownSecrets,
  env: NodeJS.ProcessEnv
): Promise<ConversationReport['saved']> {
  const sessionId = api.sessionId
  if (!isSessionId(sessionId)) return { ok: false, reason: 'the gateway saw no session id' }
  if (!sessionStoreAvailable()) {
    return { ok: false, reason: 'the Actions cache service is not available here' }
  }
  const entryDir = sessionEntryDir(env)
  await removeSessionEntry(entryDir)
  try {
    const found = await findSessionFiles(conversation.projectsDir, sessionId)
    if (!found) return { ok: false, reason: `the CLI left no transcript of session ${sessionId}` }
    const copies = await copySessionFiles(
      conversation.projectsDir,
      found,
      path.join(entryDir, 'transcript')
    )
    const context = safeContext(env)
    const saved: SavedSession = {
      version: 1,
      sessionId,
      origin: conversation.scope.origin,
      repository: conversation.scope.repository,
      workflow: conversation.scope.workflow,
      job: conversation.scope.job,
      ...(conversation.scope.conversation ? { conversation: conversation.scope.conversation } : {}),
      projectDir: found.projectDir,
      run: {
        id: env.GITHUB_RUN_ID ?? paths.runId,
        ...(env.GITHUB_RUN_ATTEMPT ? { attempt: env.GITHUB_RUN_ATTEMPT } : {}),
        ...(context ? { url: runUrl(context) } : {})
      },
      ...(conversation.headSha ? { headSha: conversation.headSha } : {}),
      savedAt: new Date().toISOString(),
      totals: addTotals(conversation.resumed?.totals, { turns: api.turns, ...runTokens(api) })
    }
    const meta = path.join(entryDir, 'session.json')
    await writeFile(meta, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 })
    const leaking = await filesWithKnownSecrets([meta, ...copies], known)
    if (leaking.length > 0) {
      core.warning(
        `The session was not saved: ${leaking.length} of its files hold one of the run's credentials`
      )
      return { ok: false, reason: 'it holds one of the run’s credentials' }
    }
    const stored = await saveSessionEntry(
      entryDir,
      saveKeys(conversation.scope, sessionId, paths.runId),
      log
    )
    if (stored.length === 0) return { ok: false, reason: 'the Actions cache did not take it' }
    return {
      ok: true,
      ...(conversation.scope.conversation
        ? { conversation: describeConversation(conversation.scope.conversation) }
        : {})
    }
  } catch (error: unknown) {
    core.warning(`The session was not saved: ${errorMessage(error)}`)
    return { ok: false, reason: errorMessage(error) }
  } finally {
    await removeSessionEntry(entryDir)
  }
}

function runTokens(api: ApiFigures): {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  costUsd: number
} {
  return {
    inputTokens: api.inputTokens,
    outputTokens: api.outputTokens,
    cacheReadTokens: api.cacheReadTokens,
    cacheWriteTokens: api.cacheWriteTokens,
    costUsd: api.costUsd
  }
}

function safeContext(env: NodeJS.ProcessEnv): ReturnType<typeof contextFromEnv> | undefined {
  try {
    return contextFromEnv(env)
  } catch {
    return undefined
  }
}
