import { sanitizeUntrustedText } from './sanitize.js'

/**
 * Decides from the workflow's event whether the agent runs, on whose say-so, and which of the
 * event's texts it gets (as untrusted data). Pure: the permission check and the pull request
 * lookup that an issue comment needs are separate functions taking an injected client.
 *
 * Events and what they do:
 * - issue_comment (created), on an issue or a pull request; pull_request_review_comment
 *   (created); pull_request_review (submitted): run when the text, as a reader sees it (HTML
 *   comments and invisible characters removed, leading whitespace ignored), starts with
 *   trigger-phrase, case-insensitively, followed by the end or a character that cannot continue a
 *   name (`@claude,` triggers `@claude`; `@claude-bot` does not). The author must have write
 *   permission.
 * - issues: `labeled` with label-trigger (the labeller must have write permission); `opened`
 *   with a body starting with trigger-phrase (the author must have write permission).
 * - pull_request, pull_request_target: `labeled` with label-trigger (labeller checked). Without
 *   label-trigger, also `opened`, `synchronize`, `reopened` and `ready_for_review`. A fork's pull
 *   request never runs on `pull_request` (GitHub gives it no secrets; use a comment or a label);
 *   on `pull_request_target` it runs only when the sender has write permission. Setting
 *   label-trigger makes the label the only way issue and pull request events start the agent.
 * - schedule, workflow_dispatch, push, repository_dispatch, merge_group: run; only people with
 *   write access can cause them, and they carry no text from anyone else.
 * - workflow_run (completed): runs when the run failed and was for a pull request of this
 *   repository (GitHub lists only those in the payload; a fork's pull request is listed by
 *   none), and whoever triggered that run has write permission. No text of the payload is given
 *   to the agent: the workflow adds what it wants (the failed jobs' logs) itself, delimited as
 *   untrusted (see examples/ci-failure-fix.yml).
 * - No event at all (a local run): run.
 * - Anything else (discussion, release, ...): does not run. Some of them can be caused by
 *   anyone, so they are refused rather than guessed at.
 */

export interface UntrustedText {
  /** Where the text comes from, written by this module: "pull request body", "comment by @x". */
  label: string
  text: string
}

export interface PullRequestRef {
  number: number
  baseRef: string
  baseSha: string
  headRef: string
  headSha: string
  /** `owner/name` of the head repository; empty when the fork has been deleted. */
  headRepoFullName: string
  /** The head lives in another repository than the base. */
  isFork: boolean
}

export interface TriggerDecision {
  run: boolean
  /** One sentence for the log: why it runs or, as a notice, why it does nothing. */
  reason: string
  /** Run only when this GitHub user has write permission (checkWritePermission). */
  needsPermissionCheck?: { actor: string }
  /** The event's texts, most relevant first, to be given to the agent as untrusted data. */
  untrusted: UntrustedText[]
  /** The pull request, when the payload carries it (pull_request*, review comments). */
  pullRequest?: PullRequestRef
  /**
   * The pull request's number whenever the event concerns one. For an issue comment on a pull
   * request the payload does not describe the pull request: fetch it with fetchPullRequest.
   */
  pullRequestNumber?: number
  /** The issue's number for issue and issue comment events (on a pull request it is the PR's). */
  issueNumber?: number
}

export interface TriggerInput {
  eventName: string
  payload: unknown
  triggerPhrase: string
  labelTrigger: string
}

/** Events only people with write access can cause, carrying nobody else's text. */
const TRUSTED_EVENTS = new Set([
  'schedule',
  'workflow_dispatch',
  'push',
  'repository_dispatch',
  'merge_group'
])
const PULL_REQUEST_ACTIONS = new Set(['opened', 'synchronize', 'reopened', 'ready_for_review'])

export function decideTrigger(input: TriggerInput): TriggerDecision {
  const event = input.eventName
  const payload = asRecord(input.payload)
  if (event === '') return runs('no GitHub event (a local run)')
  if (TRUSTED_EVENTS.has(event)) return runs(`${event} event`)
  switch (event) {
    case 'issue_comment':
      return decideIssueComment(input, payload)
    case 'pull_request_review_comment':
      return decideReviewComment(input, payload)
    case 'pull_request_review':
      return decideReview(input, payload)
    case 'issues':
      return decideIssue(input, payload)
    case 'pull_request':
    case 'pull_request_target':
      return decidePullRequest(input, payload)
    case 'workflow_run':
      return decideWorkflowRun(payload)
    default:
      return skips(
        `the ${event} event is not a trigger this action understands (use issue_comment, ` +
          `pull_request_review_comment, pull_request_review, issues, pull_request, ` +
          `pull_request_target, schedule, workflow_dispatch, push, repository_dispatch or merge_group)`
      )
  }
}

/** Whether the text, as a reader sees it, starts with the phrase as a whole word. */
export function startsWithTriggerPhrase(text: string, phrase: string): boolean {
  const wanted = phrase.trim().toLowerCase()
  if (wanted === '') return false
  const seen = sanitizeUntrustedText(text).trimStart()
  if (!seen.toLowerCase().startsWith(wanted)) return false
  const next = seen.slice(wanted.length, wanted.length + 1)
  return next === '' || !/[\p{L}\p{N}_-]/u.test(next)
}

function decideIssueComment(input: TriggerInput, payload: Rec): TriggerDecision {
  const action = str(payload.action)
  const issue = asRecord(payload.issue)
  const comment = asRecord(payload.comment)
  const number = num(issue.number)
  const onPullRequest = issue.pull_request !== undefined && issue.pull_request !== null
  const where = onPullRequest ? `pull request #${number}` : `issue #${number}`
  if (action !== 'created') return skips(`a comment was ${action || 'changed'}, not created`)
  const author = login(comment.user) || login(payload.sender)
  const phraseCheck = checkPhrase(input.triggerPhrase, str(comment.body), `the comment on ${where}`)
  if (phraseCheck) return phraseCheck
  const kind = onPullRequest ? 'pull request' : 'issue'
  return {
    run: true,
    reason: `comment by @${author} on ${where} starts with "${input.triggerPhrase.trim()}"`,
    needsPermissionCheck: { actor: author },
    untrusted: texts([
      [`comment by @${author}`, str(comment.body)],
      [`${kind} title`, str(issue.title)],
      [`${kind} body`, str(issue.body)]
    ]),
    issueNumber: number,
    ...(onPullRequest ? { pullRequestNumber: number } : {})
  }
}

function decideReviewComment(input: TriggerInput, payload: Rec): TriggerDecision {
  const action = str(payload.action)
  const comment = asRecord(payload.comment)
  const pullRequest = pullRequestFromPayload(payload.pull_request)
  if (action !== 'created') return skips(`a review comment was ${action || 'changed'}, not created`)
  const where = `pull request #${pullRequest.number}`
  const phraseCheck = checkPhrase(
    input.triggerPhrase,
    str(comment.body),
    `the review comment on ${where}`
  )
  if (phraseCheck) return phraseCheck
  const author = login(comment.user) || login(payload.sender)
  const line = num(comment.line) || num(comment.original_line)
  const place = `File: ${str(comment.path)}${line ? ` (line ${line})` : ''}`
  const pr = asRecord(payload.pull_request)
  return {
    run: true,
    reason: `review comment by @${author} on ${where} starts with "${input.triggerPhrase.trim()}"`,
    needsPermissionCheck: { actor: author },
    untrusted: texts([
      [`review comment by @${author}`, `${place}\n\n${str(comment.body)}`],
      ['diff hunk the review comment is attached to', str(comment.diff_hunk)],
      ['pull request title', str(pr.title)],
      ['pull request body', str(pr.body)]
    ]),
    pullRequest,
    pullRequestNumber: pullRequest.number,
    issueNumber: pullRequest.number
  }
}

function decideReview(input: TriggerInput, payload: Rec): TriggerDecision {
  const action = str(payload.action)
  const review = asRecord(payload.review)
  const pullRequest = pullRequestFromPayload(payload.pull_request)
  if (action !== 'submitted') return skips(`a review was ${action || 'changed'}, not submitted`)
  const where = `pull request #${pullRequest.number}`
  const phraseCheck = checkPhrase(input.triggerPhrase, str(review.body), `the review of ${where}`)
  if (phraseCheck) return phraseCheck
  const author = login(review.user) || login(payload.sender)
  const pr = asRecord(payload.pull_request)
  return {
    run: true,
    reason: `review by @${author} of ${where} starts with "${input.triggerPhrase.trim()}"`,
    needsPermissionCheck: { actor: author },
    untrusted: texts([
      [`review by @${author}`, str(review.body)],
      ['pull request title', str(pr.title)],
      ['pull request body', str(pr.body)]
    ]),
    pullRequest,
    pullRequestNumber: pullRequest.number,
    issueNumber: pullRequest.number
  }
}

function decideIssue(input: TriggerInput, payload: Rec): TriggerDecision {
  const action = str(payload.action)
  const issue = asRecord(payload.issue)
  const number = num(issue.number)
  const sender = login(payload.sender)
  const context = {
    untrusted: texts([
      ['issue title', str(issue.title)],
      ['issue body', str(issue.body)]
    ]),
    issueNumber: number
  }
  const labelTrigger = input.labelTrigger.trim()
  if (action === 'labeled') {
    const label = str(asRecord(payload.label).name)
    if (labelTrigger === '') return skips(`issue #${number} was labeled; label-trigger is not set`)
    if (!sameLabel(label, labelTrigger))
      return skips(`issue #${number} was labeled "${label}", not "${labelTrigger}"`)
    return {
      run: true,
      reason: `@${sender} labeled issue #${number} "${label}"`,
      needsPermissionCheck: { actor: sender },
      ...context
    }
  }
  if (labelTrigger !== '')
    return skips(
      `issue #${number} was ${action}; with label-trigger set only the label starts a run`
    )
  if (action !== 'opened') return skips(`issue #${number} was ${action}, not opened or labeled`)
  const phraseCheck = checkPhrase(
    input.triggerPhrase,
    str(issue.body),
    `the body of issue #${number}`
  )
  if (phraseCheck) return phraseCheck
  return {
    run: true,
    reason: `issue #${number} opened by @${sender} starts with "${input.triggerPhrase.trim()}"`,
    needsPermissionCheck: { actor: sender },
    ...context
  }
}

function decidePullRequest(input: TriggerInput, payload: Rec): TriggerDecision {
  const event = input.eventName
  const action = str(payload.action)
  const pullRequest = pullRequestFromPayload(payload.pull_request)
  const pr = asRecord(payload.pull_request)
  const sender = login(payload.sender)
  const where = `pull request #${pullRequest.number}`
  const context = {
    untrusted: texts([
      ['pull request title', str(pr.title)],
      ['pull request body', str(pr.body)]
    ]),
    pullRequest,
    pullRequestNumber: pullRequest.number,
    issueNumber: pullRequest.number
  }
  if (event === 'pull_request' && pullRequest.isFork)
    return skips(
      `${where} comes from a fork, and GitHub gives a fork's pull_request run no secrets; ` +
        `let a maintainer start the agent with a comment or a label instead`
    )
  const labelTrigger = input.labelTrigger.trim()
  if (action === 'labeled') {
    const label = str(asRecord(payload.label).name)
    if (labelTrigger === '') return skips(`${where} was labeled; label-trigger is not set`)
    if (!sameLabel(label, labelTrigger))
      return skips(`${where} was labeled "${label}", not "${labelTrigger}"`)
    // Triage members can label without being able to write: always check the labeller.
    return {
      run: true,
      reason: `@${sender} labeled ${where} "${label}"`,
      needsPermissionCheck: { actor: sender },
      ...context
    }
  }
  if (labelTrigger !== '')
    return skips(`${where} was ${action}; with label-trigger set only the label starts a run`)
  if (!PULL_REQUEST_ACTIONS.has(action))
    return skips(
      `${where} was ${action}; runs follow opened, synchronize, reopened, ready_for_review`
    )
  const reason = `${event} ${action} on ${where}`
  if (pullRequest.isFork)
    // pull_request_target runs with the base repository's secrets: a fork's push only starts
    // the agent when whoever pushed could have written to the repository anyway.
    return { run: true, reason, needsPermissionCheck: { actor: sender }, ...context }
  return { run: true, reason, ...context }
}

function decideWorkflowRun(payload: Rec): TriggerDecision {
  const action = str(payload.action)
  const run = asRecord(payload.workflow_run)
  const name = str(run.name) || 'a workflow'
  if (action !== 'completed') return skips(`${name} run was ${action || 'changed'}, not completed`)
  const conclusion = str(run.conclusion)
  if (conclusion !== 'failure')
    return skips(`${name} run ended with ${conclusion || 'no conclusion'}, not failure`)
  const listed = Array.isArray(run.pull_requests) ? run.pull_requests : []
  const pr = asRecord(listed[0])
  if (listed.length === 0 || !num(pr.number))
    return skips(
      `the failed ${name} run is not for a pull request of this repository (GitHub lists none ` +
        `for a fork's); ask on a fork's pull request with a comment instead`
    )
  // The run's listing names repositories by URL only; the full names are beside it.
  const baseRepo = str(asRecord(payload.repository).full_name)
  const headRepo = str(asRecord(run.head_repository).full_name)
  const pullRequest = pullRequestFromPayload({
    ...pr,
    base: { ...asRecord(pr.base), repo: { full_name: baseRepo } },
    head: { ...asRecord(pr.head), repo: { full_name: headRepo } }
  })
  const actor = login(run.triggering_actor) || login(run.actor) || login(payload.sender)
  return {
    run: true,
    reason: `${name} failed on pull request #${pullRequest.number} (run by @${actor})`,
    needsPermissionCheck: { actor },
    untrusted: [],
    pullRequest,
    pullRequestNumber: pullRequest.number,
    issueNumber: pullRequest.number
  }
}

/** The pull request as the payload's `pull_request` object (or the REST API) describes it. */
export function pullRequestFromPayload(value: unknown): PullRequestRef {
  const pr = asRecord(value)
  const base = asRecord(pr.base)
  const head = asRecord(pr.head)
  const baseRepo = str(asRecord(base.repo).full_name)
  const headRepo = str(asRecord(head.repo).full_name)
  return {
    number: num(pr.number),
    baseRef: str(base.ref),
    baseSha: str(base.sha),
    headRef: str(head.ref),
    headSha: str(head.sha),
    headRepoFullName: headRepo,
    // A deleted fork leaves head.repo null: it is still not the base repository.
    isFork: headRepo === '' || headRepo.toLowerCase() !== baseRepo.toLowerCase()
  }
}

function checkPhrase(phrase: string, text: string, what: string): TriggerDecision | undefined {
  if (phrase.trim() === '') return skips(`trigger-phrase is empty, so ${what} cannot start a run`)
  if (!startsWithTriggerPhrase(text, phrase))
    return skips(`${what} does not start with "${phrase.trim()}"`)
  return undefined
}

function sameLabel(a: string, b: string): boolean {
  // GitHub treats label names case-insensitively (two labels cannot differ only in case).
  return a.trim().toLowerCase() === b.trim().toLowerCase()
}

function runs(reason: string): TriggerDecision {
  return { run: true, reason, untrusted: [] }
}

function skips(reason: string): TriggerDecision {
  return { run: false, reason, untrusted: [] }
}

function texts(pairs: Array<[string, string]>): UntrustedText[] {
  return pairs.filter(([, text]) => text.trim() !== '').map(([label, text]) => ({ label, text }))
}

type Rec = Record<string, unknown>

function asRecord(value: unknown): Rec {
  return typeof value === 'object' && value !== null ? (value as Rec) : {}
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}

function login(user: unknown): string {
  return str(asRecord(user).login)
}

// --- API checks (the only impure part; the client is injected) ------------------------------

/**
 * The slice of an Octokit client this module uses; `github.getOctokit(token)` fits it. Errors are
 * expected to carry the HTTP `status`, as Octokit's RequestError does.
 */
export interface GitHubReader {
  request(
    route: string,
    parameters: Record<string, string | number>
  ): Promise<{ status: number; data: unknown }>
}

const WRITE_PERMISSIONS = new Set(['admin', 'maintain', 'write'])

/**
 * True when `actor` may write to owner/repo: GET
 * /repos/{owner}/{repo}/collaborators/{username}/permission says admin, maintain or write (role
 * `maintain` is reported as permission `write`, so both fields are read). A user who is not a
 * collaborator (404) cannot write. Any other failure is thrown: a check that cannot be made must
 * not let the run through.
 */
export async function checkWritePermission(
  client: GitHubReader,
  owner: string,
  repo: string,
  actor: string
): Promise<boolean> {
  if (actor === '') return false
  try {
    const { data } = await client.request(
      'GET /repos/{owner}/{repo}/collaborators/{username}/permission',
      { owner, repo, username: actor }
    )
    const answer = asRecord(data)
    return (
      WRITE_PERMISSIONS.has(str(answer.permission)) || WRITE_PERMISSIONS.has(str(answer.role_name))
    )
  } catch (error: unknown) {
    if (httpStatus(error) === 404) return false
    throw error
  }
}

/**
 * The pull request an issue comment was made on (its payload names only the number): GET
 * /repos/{owner}/{repo}/pulls/{pull_number}.
 */
export async function fetchPullRequest(
  client: GitHubReader,
  owner: string,
  repo: string,
  pullNumber: number
): Promise<PullRequestRef> {
  const { data } = await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', {
    owner,
    repo,
    pull_number: pullNumber
  })
  return pullRequestFromPayload(data)
}

function httpStatus(error: unknown): number | undefined {
  const status = asRecord(error).status
  return typeof status === 'number' ? status : undefined
}
