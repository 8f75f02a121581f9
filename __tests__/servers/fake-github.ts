import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  GitStore,
  GitStoreError,
  importFromGit,
  type EntryMode,
  type EntryType,
  type FlatEntry,
  type TreeChange
} from './fake-git-store.js'
import {
  openApiValidator,
  type MatchedOperation,
  type ValidationProblem
} from './openapi-validator.js'

/**
 * A local GitHub REST API with just enough state for publishing: repositories, refs, git
 * objects with real ids, issue comments, pull requests, labels and collaborator permissions.
 *
 * Every request is matched to its operation in GitHub's OpenAPI description and its path, query
 * and body are validated against that operation's schemas; a request GitHub would reject is
 * answered 422 (as GitHub does) and recorded in `validationFailures`, so a test asserts that
 * list is empty. Faults can be injected per operation (a status N times, a hook that runs before
 * the operation, e.g. to move a branch behind the client's back).
 *
 * Start it from a test with `await FakeGitHub.start()`, or from a script:
 * `npx tsx __tests__/servers/fake-github.ts --repo owner/name --seed DIR --token TOKEN` prints
 * `{"url": ...}` on its first line and serves until killed. `GET /_fake/report` returns the
 * recorded requests and validation failures for tests that run it in another process.
 */

export type Access = 'none' | 'read' | 'write'

export interface TokenGrant {
  login: string
  type: 'Bot' | 'User'
  /** GitHub App style permissions, as `permissions:` in a workflow grants them. */
  permissions: { contents?: Access; pull_requests?: Access; issues?: Access; metadata?: Access }
}

export interface RequestRecord {
  method: string
  path: string
  operationId?: string
  status: number
  bodyBytes: number
  /** When the request arrived (ms since the epoch). */
  at: number
}

export interface ValidationFailure {
  method: string
  path: string
  operationId?: string
  problems: ValidationProblem[]
}

interface Fault {
  operationId: string
  status: number
  remaining: number
  message?: string
}

interface Hook {
  operationId: string
  remaining: number
  run: (server: FakeGitHub) => void | Promise<void>
}

export interface UserRecord {
  login: string
  id: number
  type: 'Bot' | 'User'
}

export interface CommentRecord {
  id: number
  issueNumber: number
  body: string
  user: UserRecord
  createdAt: string
  updatedAt: string
}

export interface PullRecord {
  number: number
  id: number
  title: string
  body: string | null
  state: 'open' | 'closed'
  draft: boolean
  headRef: string
  headSha: string
  /** owner/name of the repository the head branch lives in (differs for a fork). */
  headRepo: string
  baseRef: string
  user: UserRecord
  labels: string[]
  createdAt: string
  updatedAt: string
}

export interface ReviewRecord {
  id: number
  pullNumber: number
  body: string
  state: 'COMMENTED' | 'APPROVED' | 'CHANGES_REQUESTED' | 'PENDING' | 'DISMISSED'
  commitId: string
  user: UserRecord
  submittedAt: string
}

export interface ReviewCommentRecord {
  id: number
  reviewId: number
  pullNumber: number
  path: string
  line: number
  startLine?: number
  side: 'LEFT' | 'RIGHT'
  body: string
  commitId: string
  /** The PR hunk the comment sits in, as GitHub returns it in `diff_hunk`. */
  diffHunk: string
  user: UserRecord
  createdAt: string
}

/** One file of a pull request's diff, as GET /pulls/{n}/files describes it. */
export interface PullFile {
  filename: string
  previousFilename?: string
  status: 'added' | 'removed' | 'modified' | 'renamed'
  sha: string
  additions: number
  deletions: number
  /** The hunks (from the first "@@"); absent for binary files. */
  patch?: string
}

export interface RepoRecord {
  owner: string
  name: string
  id: number
  defaultBranch: string
  private: boolean
  fork: boolean
  /** The repository setting "Allow GitHub Actions to create and approve pull requests". */
  actionsCanCreatePullRequests: boolean
  refs: Map<string, string>
  comments: CommentRecord[]
  pulls: Map<number, PullRecord>
  issues: Set<number>
  labels: Map<string, { id: number; color: string }>
  collaborators: Map<string, 'admin' | 'write' | 'read' | 'none'>
  reviews: Map<number, ReviewRecord>
  reviewComments: Map<number, ReviewCommentRecord>
  nextNumber: number
}

interface Ctx {
  req: IncomingMessage
  op: MatchedOperation
  query: URLSearchParams
  body: unknown
  grant: TokenGrant
  repo?: RepoRecord
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly payload: Record<string, unknown>,
    readonly headers: Record<string, string> = {}
  ) {
    super(String(payload.message))
  }
}

const DOCS = 'https://docs.github.com/rest'
const now = (): string => new Date().toISOString()

function validationFailed(resource: string, message: string, field?: string): HttpError {
  return new HttpError(422, {
    message: 'Validation Failed',
    errors: [{ resource, code: 'custom', ...(field ? { field } : {}), message }],
    documentation_url: DOCS,
    status: '422'
  })
}

function unprocessable(message: string): HttpError {
  return new HttpError(422, { message, documentation_url: DOCS, status: '422' })
}

function notFound(): HttpError {
  return new HttpError(404, { message: 'Not Found', documentation_url: DOCS, status: '404' })
}

/** Which permission each implemented operation needs; alternatives are separate sets. */
const REQUIRED: Record<string, Array<Partial<Record<keyof TokenGrant['permissions'], Access>>>> = {
  'repos/get': [{ metadata: 'read' }],
  'repos/get-collaborator-permission-level': [{ metadata: 'read' }],
  'git/get-ref': [{ contents: 'read' }],
  'git/list-matching-refs': [{ contents: 'read' }],
  'git/get-commit': [{ contents: 'read' }],
  'git/get-tree': [{ contents: 'read' }],
  'git/get-blob': [{ contents: 'read' }],
  'git/create-blob': [{ contents: 'write' }],
  'git/create-tree': [{ contents: 'write' }],
  'git/create-commit': [{ contents: 'write' }],
  'git/create-ref': [{ contents: 'write' }],
  'git/update-ref': [{ contents: 'write' }],
  'git/delete-ref': [{ contents: 'write' }],
  'issues/list-comments': [{ issues: 'read' }, { pull_requests: 'read' }],
  'issues/get-comment': [{ issues: 'read' }, { pull_requests: 'read' }],
  'issues/create-comment': [{ issues: 'write' }, { pull_requests: 'write' }],
  'issues/update-comment': [{ issues: 'write' }, { pull_requests: 'write' }],
  'issues/add-labels': [{ issues: 'write' }, { pull_requests: 'write' }],
  'pulls/list': [{ pull_requests: 'read' }],
  'pulls/get': [{ pull_requests: 'read' }],
  'pulls/create': [{ pull_requests: 'write' }],
  'pulls/update': [{ pull_requests: 'write' }],
  'pulls/list-files': [{ pull_requests: 'read' }],
  'pulls/list-reviews': [{ pull_requests: 'read' }],
  'pulls/get-review': [{ pull_requests: 'read' }],
  'pulls/create-review': [{ pull_requests: 'write' }],
  'pulls/update-review': [{ pull_requests: 'write' }],
  'pulls/list-comments-for-review': [{ pull_requests: 'read' }],
  'pulls/list-review-comments': [{ pull_requests: 'read' }],
  'pulls/delete-review-comment': [{ pull_requests: 'write' }]
}

const ACCESS_RANK: Record<Access, number> = { none: 0, read: 1, write: 2 }

export interface StartOptions {
  port?: number
  /** The web URL used in html_url fields. */
  serverUrl?: string
  /** Treat body properties the schema does not list as validation failures (default true). */
  rejectUnknownBodyProperties?: boolean
}

export class FakeGitHub {
  readonly store = new GitStore()
  readonly repos = new Map<string, RepoRecord>()
  readonly tokens = new Map<string, TokenGrant>()
  readonly requests: RequestRecord[] = []
  readonly validationFailures: ValidationFailure[] = []
  /** Requests to routes GitHub has but this fake does not implement. */
  readonly unimplemented: string[] = []
  private readonly faults: Fault[] = []
  private readonly hooks: Hook[] = []
  private readonly users = new Map<string, UserRecord>()
  private nextId = 1000
  url = ''
  readonly serverUrl: string

  private constructor(
    private readonly server: Server,
    private readonly options: StartOptions
  ) {
    this.serverUrl = options.serverUrl ?? 'https://github.example'
  }

  static async start(options: StartOptions = {}): Promise<FakeGitHub> {
    openApiValidator() // parse the description before the first request's clock starts
    const holder: { fake?: FakeGitHub } = {}
    const server = createServer((req, res) => {
      void (holder.fake as FakeGitHub).handle(req, res)
    })
    const fake = new FakeGitHub(server, options)
    holder.fake = fake
    await new Promise<void>(resolve => server.listen(options.port ?? 0, '127.0.0.1', resolve))
    fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return fake
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  // ---- set-up -------------------------------------------------------------------------------

  addToken(token: string, grant: TokenGrant): void {
    this.tokens.set(token, grant)
  }

  addRepo(
    fullName: string,
    options: Partial<
      Pick<RepoRecord, 'defaultBranch' | 'private' | 'fork' | 'actionsCanCreatePullRequests'>
    > = {}
  ): RepoRecord {
    const [owner, name] = fullName.split('/') as [string, string]
    const repo: RepoRecord = {
      owner,
      name,
      id: this.id(),
      defaultBranch: options.defaultBranch ?? 'main',
      private: options.private ?? false,
      fork: options.fork ?? false,
      actionsCanCreatePullRequests: options.actionsCanCreatePullRequests ?? true,
      refs: new Map(),
      comments: [],
      pulls: new Map(),
      issues: new Set(),
      labels: new Map(),
      collaborators: new Map(),
      reviews: new Map(),
      reviewComments: new Map(),
      nextNumber: 1
    }
    this.repos.set(fullName.toLowerCase(), repo)
    return repo
  }

  repo(fullName: string): RepoRecord {
    const repo = this.repos.get(fullName.toLowerCase())
    if (!repo) throw new Error(`fake GitHub has no repository ${fullName}`)
    return repo
  }

  /**
   * Copies the given branches of a real local repository (objects with their ids, and refs) into
   * `fullName`; returns branch -> commit id.
   */
  async seedFromGit(
    fullName: string,
    repoDir: string,
    branches: Record<string, string>
  ): Promise<Record<string, string>> {
    const repo = this.repo(fullName)
    const resolved = await importFromGit(this.store, repoDir, Object.values(branches))
    const out: Record<string, string> = {}
    for (const [branch, rev] of Object.entries(branches)) {
      out[branch] = resolved[rev] as string
      repo.refs.set(`refs/heads/${branch}`, resolved[rev] as string)
    }
    return out
  }

  /** Registers an open pull request (as if opened by someone) and returns it. */
  addPullRequest(
    fullName: string,
    pr: {
      headRef: string
      headSha?: string
      headRepo?: string
      baseRef?: string
      title?: string
      user?: string
    }
  ): PullRecord {
    const repo = this.repo(fullName)
    const headSha = pr.headSha ?? repo.refs.get(`refs/heads/${pr.headRef}`)
    if (!headSha) throw new Error(`no head sha for ${pr.headRef}`)
    const record: PullRecord = {
      number: repo.nextNumber++,
      id: this.id(),
      title: pr.title ?? 'A pull request',
      body: null,
      state: 'open',
      draft: false,
      headRef: pr.headRef,
      headSha,
      headRepo: pr.headRepo ?? fullName,
      baseRef: pr.baseRef ?? repo.defaultBranch,
      user: this.user(pr.user ?? 'octocat', 'User'),
      labels: [],
      createdAt: now(),
      updatedAt: now()
    }
    repo.pulls.set(record.number, record)
    repo.issues.add(record.number)
    return record
  }

  /** A `pull_request` event payload for a pull request, as GITHUB_EVENT_PATH would hold it. */
  pullRequestEvent(fullName: string, number: number): Record<string, unknown> {
    const repo = this.repo(fullName)
    const pr = repo.pulls.get(number)
    if (!pr) throw new Error(`no pull request #${number}`)
    return {
      action: 'opened',
      number,
      pull_request: this.pullJson(repo, pr),
      repository: this.repoJson(repo),
      sender: this.userJson(pr.user)
    }
  }

  /**
   * Makes a commit on a branch as someone else would (a push): `files` maps path -> new content
   * (null deletes). Returns the new commit id.
   */
  advanceBranch(fullName: string, branch: string, files: Record<string, string | null>): string {
    const repo = this.repo(fullName)
    const head = repo.refs.get(`refs/heads/${branch}`)
    if (!head) throw new Error(`no branch ${branch}`)
    const parent = this.store.commits.get(head)
    if (!parent) throw new Error(`no commit ${head}`)
    const changes: TreeChange[] = Object.entries(files).map(([path, content]) =>
      content === null
        ? { path, mode: '100644', type: 'blob', sha: null }
        : { path, mode: '100644', type: 'blob', content }
    )
    const tree = this.store.applyChanges(parent.tree, changes)
    const who = {
      name: 'Someone Else',
      email: 'someone@example.com',
      time: Math.floor(Date.now() / 1000),
      tz: '+0000'
    }
    const sha = this.store.putCommit({
      tree,
      parents: [head],
      author: who,
      committer: who,
      message: `push to ${branch}\n`,
      verified: false
    })
    repo.refs.set(`refs/heads/${branch}`, sha)
    for (const pr of repo.pulls.values()) {
      if (pr.headRef === branch && pr.headRepo.toLowerCase() === fullName.toLowerCase())
        pr.headSha = sha
    }
    return sha
  }

  // ---- fault injection ----------------------------------------------------------------------

  /** Answer `status` to the next `times` requests for `operationId` (e.g. 502 twice). */
  failNext(operationId: string, status: number, times = 1, message?: string): void {
    this.faults.push({ operationId, status, remaining: times, ...(message ? { message } : {}) })
  }

  /** Run `fn` before the next `times` requests for `operationId` are handled. */
  beforeOperation(operationId: string, run: Hook['run'], times = 1): void {
    this.hooks.push({ operationId, remaining: times, run })
  }

  /** Forgets every repository, token, request record, fault and hook (between tests). */
  reset(): void {
    this.repos.clear()
    this.tokens.clear()
    this.requests.length = 0
    this.validationFailures.length = 0
    this.unimplemented.length = 0
    this.faults.length = 0
    this.hooks.length = 0
  }

  // ---- inspection ---------------------------------------------------------------------------

  /** Requests that could change state (anything but GET/HEAD), whatever their answer. */
  writes(): RequestRecord[] {
    return this.requests.filter(r => r.method !== 'GET' && r.method !== 'HEAD')
  }

  count(operationId: string): number {
    return this.requests.filter(r => r.operationId === operationId).length
  }

  ref(fullName: string, branch: string): string | undefined {
    return this.repo(fullName).refs.get(`refs/heads/${branch}`)
  }

  /** The whole tree of a commit or tree id: path -> entry, with blob contents. */
  readTree(treeOrCommit: string): Map<string, FlatEntry & { content?: Buffer }> {
    const tree = this.store.commits.get(treeOrCommit)?.tree ?? treeOrCommit
    const out = new Map<string, FlatEntry & { content?: Buffer }>()
    for (const e of this.store.flatten(tree)) {
      const content = e.type === 'blob' ? this.store.blobs.get(e.sha) : undefined
      out.set(e.path, content ? { ...e, content } : e)
    }
    return out
  }

  comments(fullName: string, issueNumber: number): CommentRecord[] {
    return this.repo(fullName).comments.filter(c => c.issueNumber === issueNumber)
  }

  pulls(fullName: string): PullRecord[] {
    return [...this.repo(fullName).pulls.values()]
  }

  reviews(fullName: string, pullNumber: number): ReviewRecord[] {
    return [...this.repo(fullName).reviews.values()].filter(r => r.pullNumber === pullNumber)
  }

  /** The review comments still on a pull request (deleted ones are gone, as on GitHub). */
  reviewComments(fullName: string, pullNumber: number, reviewId?: number): ReviewCommentRecord[] {
    return [...this.repo(fullName).reviewComments.values()].filter(
      c => c.pullNumber === pullNumber && (reviewId === undefined || c.reviewId === reviewId)
    )
  }

  /**
   * The files of a pull request's diff at `commit` (its head by default): the head against the
   * merge base with the base branch, as GitHub computes it, with patches written by real git
   * (`git diff --no-index` of the two blobs). Renames are detected when the content is identical.
   */
  pullFiles(fullName: string, pullNumber: number, commit?: string): PullFile[] {
    const repo = this.repo(fullName)
    const pr = repo.pulls.get(pullNumber)
    if (!pr) throw new Error(`no pull request #${pullNumber}`)
    return this.filesOf(repo, pr, commit ?? pr.headSha)
  }

  /** A JSON-able summary for tests that run the server in another process. */
  report(): Record<string, unknown> {
    return {
      requests: this.requests,
      validationFailures: this.validationFailures,
      unimplemented: this.unimplemented
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = (req.method ?? 'GET').toUpperCase()
    const record: RequestRecord = {
      method,
      path: url.pathname,
      status: 0,
      bodyBytes: 0,
      at: Date.now()
    }
    let raw: Buffer
    try {
      raw = await readBody(req)
    } catch {
      res.destroy()
      return
    }
    record.bodyBytes = raw.length
    if (url.pathname === '/_fake/report') {
      send(res, 200, this.report())
      return
    }
    this.requests.push(record)
    try {
      const op = openApiValidator().match(method, url.pathname)
      if (!op) throw notFound()
      record.operationId = op.operationId
      let body: unknown
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'))
        } catch {
          throw new HttpError(400, {
            message: 'Problems parsing JSON',
            documentation_url: DOCS,
            status: '400'
          })
        }
      }
      const grant = this.authenticate(req)
      const problems = openApiValidator().validate(op, url.searchParams, body, {
        rejectUnknownBodyProperties: this.options.rejectUnknownBodyProperties ?? true
      })
      if (problems.length > 0) {
        this.validationFailures.push({
          method,
          path: url.pathname,
          operationId: op.operationId,
          problems
        })
        throw unprocessable(
          `Invalid request.\n\n${problems.map(p => `${p.where}: ${p.message}`).join('\n')}`
        )
      }
      const fault = this.faults.find(f => f.operationId === op.operationId && f.remaining > 0)
      if (fault) {
        fault.remaining--
        throw new HttpError(fault.status, {
          message: fault.message ?? (fault.status >= 500 ? 'Server Error' : 'Injected failure'),
          documentation_url: DOCS,
          status: String(fault.status)
        })
      }
      for (const hook of this.hooks.filter(
        h => h.operationId === op.operationId && h.remaining > 0
      )) {
        hook.remaining--
        await hook.run(this)
      }
      const ctx: Ctx = { req, op, query: url.searchParams, body, grant }
      if (op.params.owner && op.params.repo) {
        ctx.repo = this.repos.get(`${op.params.owner}/${op.params.repo}`.toLowerCase())
        if (!ctx.repo) throw notFound()
      }
      this.authorize(ctx)
      const result = this.route(ctx, url)
      record.status = result.status
      send(res, result.status, result.body, result.headers)
    } catch (error: unknown) {
      if (error instanceof HttpError) {
        record.status = error.status
        send(res, error.status, error.payload, error.headers)
      } else if (error instanceof GitStoreError) {
        record.status = 422
        send(res, 422, { message: error.message, documentation_url: DOCS, status: '422' })
      } else {
        record.status = 500
        send(res, 500, { message: `fake GitHub bug: ${String(error)}` })
      }
    }
  }

  private authenticate(req: IncomingMessage): TokenGrant {
    const header = req.headers.authorization ?? ''
    const m = /^(?:token|bearer)\s+(.+)$/i.exec(header)
    const grant = m ? this.tokens.get(m[1] as string) : undefined
    if (!grant) {
      throw new HttpError(401, {
        message: 'Bad credentials',
        documentation_url: DOCS,
        status: '401'
      })
    }
    return grant
  }

  private authorize(ctx: Ctx): void {
    const sets = REQUIRED[ctx.op.operationId]
    if (!sets) return
    const granted = (name: keyof TokenGrant['permissions']): Access =>
      name === 'metadata' ? 'read' : (ctx.grant.permissions[name] ?? 'none')
    const ok = sets.some(set =>
      Object.entries(set).every(
        ([name, need]) =>
          ACCESS_RANK[granted(name as keyof TokenGrant['permissions'])] >=
          ACCESS_RANK[need as Access]
      )
    )
    if (ok) return
    const accepted = sets
      .map(set =>
        Object.entries(set)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')
      )
      .join('; ')
    // A token that cannot even read the repository gets 404, as GitHub hides private data.
    const canRead = sets.some(set =>
      Object.keys(set).some(k => granted(k as keyof TokenGrant['permissions']) !== 'none')
    )
    if (!canRead && ctx.repo?.private) throw notFound()
    throw new HttpError(
      403,
      { message: 'Resource not accessible by integration', documentation_url: DOCS, status: '403' },
      { 'x-accepted-github-permissions': accepted }
    )
  }

  private route(
    ctx: Ctx,
    url: URL
  ): { status: number; body: unknown; headers?: Record<string, string> } {
    const repo = ctx.repo as RepoRecord
    const p = ctx.op.params
    const b = (ctx.body ?? {}) as Record<string, unknown>
    switch (ctx.op.operationId) {
      case 'repos/get':
        return { status: 200, body: this.repoJson(repo) }
      case 'repos/get-collaborator-permission-level': {
        const permission = repo.collaborators.get(String(p.username)) ?? 'none'
        const user = this.user(String(p.username), 'User')
        return {
          status: 200,
          body: {
            permission,
            role_name: permission,
            user: { ...this.userJson(user), permissions: {} }
          }
        }
      }
      case 'git/get-ref': {
        const ref = `refs/${p.ref}`
        const sha = repo.refs.get(ref)
        if (!sha) throw notFound()
        return { status: 200, body: this.refJson(repo, ref, sha) }
      }
      case 'git/list-matching-refs': {
        const prefix = `refs/${p.ref}`
        const refs = [...repo.refs].filter(([name]) => name.startsWith(prefix))
        return { status: 200, body: refs.map(([name, sha]) => this.refJson(repo, name, sha)) }
      }
      case 'git/create-ref': {
        const ref = String(b.ref)
        const sha = String(b.sha)
        if (!/^refs\/[^/]+\/.+/.test(ref)) {
          throw unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes."
          )
        }
        if (repo.refs.has(ref)) throw unprocessable('Reference already exists')
        if (!this.store.kindOf(sha)) throw unprocessable('Object does not exist')
        repo.refs.set(ref, sha)
        return { status: 201, body: this.refJson(repo, ref, sha) }
      }
      case 'git/update-ref': {
        const ref = `refs/${p.ref}`
        const current = repo.refs.get(ref)
        if (!current) throw unprocessable('Reference does not exist')
        const sha = String(b.sha)
        if (!this.store.commits.has(sha)) throw unprocessable('Object does not exist')
        if (b.force !== true && !this.store.isAncestor(current, sha)) {
          throw unprocessable('Update is not a fast forward')
        }
        repo.refs.set(ref, sha)
        this.syncPullHeads(repo, ref, sha)
        return { status: 200, body: this.refJson(repo, ref, sha) }
      }
      case 'git/delete-ref': {
        const ref = `refs/${p.ref}`
        if (!repo.refs.delete(ref)) throw unprocessable('Reference does not exist')
        return { status: 204, body: undefined }
      }
      case 'git/get-commit': {
        const sha = String(p.commit_sha)
        if (!this.store.commits.has(sha)) throw notFound()
        return { status: 200, body: this.commitJson(repo, sha) }
      }
      case 'git/create-commit': {
        const tree = String(b.tree)
        if (!this.store.trees.has(tree)) throw unprocessable('Tree SHA does not exist')
        const parents = (b.parents as string[] | undefined) ?? []
        for (const parent of parents) {
          if (!this.store.commits.has(parent)) {
            throw unprocessable('Parent SHA does not exist or is not a commit object')
          }
        }
        const user = this.user(ctx.grant.login, ctx.grant.type)
        const time = Math.floor(Date.now() / 1000)
        const self = {
          name: user.login,
          email: `${user.id}+${user.login}@users.noreply.github.com`,
          time,
          tz: '+0000'
        }
        const sig = (value: unknown): typeof self => {
          if (!value || typeof value !== 'object') return self
          const v = value as { name: string; email: string; date?: string }
          const t = v.date ? Math.floor(Date.parse(v.date) / 1000) : time
          return { name: v.name, email: v.email, time: t, tz: '+0000' }
        }
        const author = sig(b.author)
        const committer = b.committer ? sig(b.committer) : author
        const sha = this.store.putCommit({
          tree,
          parents,
          author,
          committer,
          message: String(b.message),
          // GitHub signs commits it creates for an API caller when no other identity is given.
          verified: b.author === undefined && b.committer === undefined && b.signature === undefined
        })
        return { status: 201, body: this.commitJson(repo, sha) }
      }
      case 'git/get-tree': {
        let sha = String(p.tree_sha)
        const fromRef = repo.refs.get(`refs/heads/${sha}`)
        if (fromRef) sha = fromRef
        const commit = this.store.commits.get(sha)
        if (commit) sha = commit.tree
        if (!this.store.trees.has(sha)) throw notFound()
        const recursive = url.searchParams.has('recursive')
        const entries: FlatEntry[] = recursive
          ? this.store.flatten(sha)
          : (this.store.trees.get(sha) ?? []).map(e => ({
              path: e.name,
              mode: e.mode,
              type: e.type,
              sha: e.sha,
              ...(e.type === 'blob' ? { size: this.store.blobs.get(e.sha)?.length ?? 0 } : {})
            }))
        return {
          status: 200,
          body: {
            sha,
            url: `${this.url}/repos/${repo.owner}/${repo.name}/git/trees/${sha}`,
            tree: entries.map(e => ({
              path: e.path,
              mode: e.mode,
              type: e.type,
              sha: e.sha,
              ...(e.size === undefined ? {} : { size: e.size }),
              url: `${this.url}/repos/${repo.owner}/${repo.name}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`
            })),
            truncated: false
          }
        }
      }
      case 'git/create-tree': {
        const tree = b.tree as Array<{
          path: string
          mode: EntryMode
          type: EntryType
          sha?: string | null
          content?: string
        }>
        const baseTree = b.base_tree === undefined ? undefined : String(b.base_tree)
        if (baseTree !== undefined && !this.store.trees.has(baseTree)) {
          throw unprocessable('base_tree is not a valid tree oid')
        }
        for (const entry of tree) {
          if (entry.sha !== undefined && entry.content !== undefined) {
            throw unprocessable(
              'Must supply either tree.sha or tree.content. Request will fail if both are supplied'
            )
          }
          if (entry.sha === undefined && entry.content === undefined) {
            throw unprocessable('Must supply either tree.sha or tree.content')
          }
          const wantType =
            entry.mode === '040000' ? 'tree' : entry.mode === '160000' ? 'commit' : 'blob'
          if (entry.type !== wantType)
            throw unprocessable(`tree.mode ${entry.mode} does not match tree.type ${entry.type}`)
        }
        const sha = this.store.applyChanges(
          baseTree,
          tree.map(e => ({
            path: e.path,
            mode: e.mode,
            type: e.type,
            ...(e.content !== undefined ? { content: e.content } : { sha: e.sha ?? null })
          }))
        )
        return { status: 201, body: this.treeJson(repo, sha) }
      }
      case 'git/get-blob': {
        const sha = String(p.file_sha)
        const content = this.store.blobs.get(sha)
        if (!content) throw notFound()
        return {
          status: 200,
          body: {
            sha,
            node_id: nodeId('B', sha),
            size: content.length,
            url: `${this.url}/repos/${repo.owner}/${repo.name}/git/blobs/${sha}`,
            content: (content.toString('base64').match(/.{1,60}/g) ?? []).join('\n'),
            encoding: 'base64'
          }
        }
      }
      case 'git/create-blob': {
        const encoding = (b.encoding as string | undefined) ?? 'utf-8'
        if (encoding !== 'utf-8' && encoding !== 'utf8' && encoding !== 'base64') {
          throw unprocessable(`encoding must be utf-8 or base64`)
        }
        const content = String(b.content)
        if (encoding === 'base64' && !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(content)) {
          throw unprocessable('content is not valid Base64')
        }
        const bytes =
          encoding === 'base64' ? Buffer.from(content, 'base64') : Buffer.from(content, 'utf8')
        const sha = this.store.putBlob(bytes)
        return {
          status: 201,
          body: { url: `${this.url}/repos/${repo.owner}/${repo.name}/git/blobs/${sha}`, sha }
        }
      }
      case 'issues/list-comments': {
        const number = Number(p.issue_number)
        if (!repo.issues.has(number)) throw notFound()
        const all = repo.comments.filter(c => c.issueNumber === number)
        return this.page(
          ctx,
          url,
          all.map(c => this.commentJson(repo, c))
        )
      }
      case 'issues/get-comment': {
        const comment = repo.comments.find(c => c.id === Number(p.comment_id))
        if (!comment) throw notFound()
        return { status: 200, body: this.commentJson(repo, comment) }
      }
      case 'issues/create-comment': {
        const number = Number(p.issue_number)
        if (!repo.issues.has(number)) throw notFound()
        const body = String(b.body)
        this.checkBodyLength('IssueComment', body)
        const comment: CommentRecord = {
          id: this.id(),
          issueNumber: number,
          body,
          user: this.user(ctx.grant.login, ctx.grant.type),
          createdAt: now(),
          updatedAt: now()
        }
        repo.comments.push(comment)
        return { status: 201, body: this.commentJson(repo, comment) }
      }
      case 'issues/update-comment': {
        const comment = repo.comments.find(c => c.id === Number(p.comment_id))
        if (!comment) throw notFound()
        const body = String(b.body)
        this.checkBodyLength('IssueComment', body)
        comment.body = body
        comment.updatedAt = now()
        return { status: 200, body: this.commentJson(repo, comment) }
      }
      case 'issues/add-labels': {
        const number = Number(p.issue_number)
        if (!repo.issues.has(number)) throw notFound()
        const raw = Array.isArray(ctx.body) ? ctx.body : ((b.labels as unknown[] | undefined) ?? [])
        const names = raw.map(l =>
          typeof l === 'string' ? l : String((l as { name: string }).name)
        )
        const pr = repo.pulls.get(number)
        for (const name of names) {
          if (!repo.labels.has(name)) repo.labels.set(name, { id: this.id(), color: 'ededed' })
          if (pr && !pr.labels.includes(name)) pr.labels.push(name)
        }
        return { status: 200, body: (pr?.labels ?? names).map(n => this.labelJson(repo, n)) }
      }
      case 'pulls/list': {
        const state = ctx.query.get('state') ?? 'open'
        const head = ctx.query.get('head')
        const base = ctx.query.get('base')
        const all = [...repo.pulls.values()].filter(pr => {
          if (state !== 'all' && pr.state !== state) return false
          if (base && pr.baseRef !== base) return false
          if (head) {
            const [owner, ref] = head.includes(':')
              ? (head.split(':') as [string, string])
              : [repo.owner, head]
            if (
              pr.headRef !== ref ||
              pr.headRepo.split('/')[0]?.toLowerCase() !== owner.toLowerCase()
            )
              return false
          }
          return true
        })
        return this.page(
          ctx,
          url,
          all.map(pr => this.pullJson(repo, pr))
        )
      }
      case 'pulls/get': {
        const pr = repo.pulls.get(Number(p.pull_number))
        if (!pr) throw notFound()
        return { status: 200, body: this.pullJson(repo, pr) }
      }
      case 'pulls/create': {
        if (ctx.grant.login === 'github-actions[bot]' && !repo.actionsCanCreatePullRequests) {
          throw new HttpError(403, {
            message: 'GitHub Actions is not permitted to create or approve pull requests.',
            documentation_url: DOCS,
            status: '403'
          })
        }
        const headRaw = String(b.head)
        const headRef = headRaw.includes(':') ? (headRaw.split(':')[1] as string) : headRaw
        const baseRef = String(b.base)
        const headSha = repo.refs.get(`refs/heads/${headRef}`)
        const baseSha = repo.refs.get(`refs/heads/${baseRef}`)
        if (!headSha) throw validationFailed('PullRequest', `head is invalid`, 'head')
        if (!baseSha) throw validationFailed('PullRequest', `base is invalid`, 'base')
        const open = [...repo.pulls.values()].find(
          pr => pr.state === 'open' && pr.headRef === headRef && pr.baseRef === baseRef
        )
        if (open)
          throw validationFailed(
            'PullRequest',
            `A pull request already exists for ${repo.owner}:${headRef}.`
          )
        if (this.store.isAncestor(headSha, baseSha)) {
          throw validationFailed('PullRequest', `No commits between ${baseRef} and ${headRef}`)
        }
        const body = b.body === undefined ? null : String(b.body)
        if (body) this.checkBodyLength('PullRequest', body)
        const pr: PullRecord = {
          number: repo.nextNumber++,
          id: this.id(),
          title: String(b.title ?? headRef),
          body,
          state: 'open',
          draft: b.draft === true,
          headRef,
          headSha,
          headRepo: `${repo.owner}/${repo.name}`,
          baseRef,
          user: this.user(ctx.grant.login, ctx.grant.type),
          labels: [],
          createdAt: now(),
          updatedAt: now()
        }
        repo.pulls.set(pr.number, pr)
        repo.issues.add(pr.number)
        return { status: 201, body: this.pullJson(repo, pr) }
      }
      case 'pulls/update': {
        const pr = repo.pulls.get(Number(p.pull_number))
        if (!pr) throw notFound()
        if (b.title !== undefined) pr.title = String(b.title)
        if (b.body !== undefined) {
          this.checkBodyLength('PullRequest', String(b.body))
          pr.body = String(b.body)
        }
        if (b.state !== undefined) pr.state = b.state as 'open' | 'closed'
        if (b.base !== undefined) {
          if (!repo.refs.has(`refs/heads/${String(b.base)}`))
            throw validationFailed('PullRequest', 'base is invalid', 'base')
          pr.baseRef = String(b.base)
        }
        pr.updatedAt = now()
        return { status: 200, body: this.pullJson(repo, pr) }
      }
      case 'pulls/list-files': {
        const pr = this.pullOf(repo, p.pull_number)
        const files = this.filesOf(repo, pr, pr.headSha)
        return this.page(
          ctx,
          url,
          files.map(f => this.fileJson(repo, pr, f))
        )
      }
      case 'pulls/list-reviews': {
        const pr = this.pullOf(repo, p.pull_number)
        const reviews = [...repo.reviews.values()].filter(r => r.pullNumber === pr.number)
        return this.page(
          ctx,
          url,
          reviews.map(r => this.reviewJson(repo, r))
        )
      }
      case 'pulls/get-review': {
        const review = this.reviewOf(repo, p.pull_number, p.review_id)
        return { status: 200, body: this.reviewJson(repo, review) }
      }
      case 'pulls/create-review':
        return { status: 200, body: this.createReview(ctx, repo, b) }
      case 'pulls/update-review': {
        const review = this.reviewOf(repo, p.pull_number, p.review_id)
        const body = String(b.body)
        this.checkBodyLength('PullRequestReview', body)
        review.body = body
        return { status: 200, body: this.reviewJson(repo, review) }
      }
      case 'pulls/list-comments-for-review': {
        const review = this.reviewOf(repo, p.pull_number, p.review_id)
        const comments = [...repo.reviewComments.values()].filter(c => c.reviewId === review.id)
        return this.page(
          ctx,
          url,
          comments.map(c => this.reviewCommentJson(repo, c))
        )
      }
      case 'pulls/list-review-comments': {
        const pr = this.pullOf(repo, p.pull_number)
        const comments = [...repo.reviewComments.values()].filter(c => c.pullNumber === pr.number)
        return this.page(
          ctx,
          url,
          comments.map(c => this.reviewCommentJson(repo, c))
        )
      }
      case 'pulls/delete-review-comment': {
        const id = Number(p.comment_id)
        if (!repo.reviewComments.has(id)) throw notFound()
        repo.reviewComments.delete(id)
        return { status: 204, body: undefined }
      }
      default:
        this.unimplemented.push(`${ctx.op.method} ${ctx.op.template} (${ctx.op.operationId})`)
        throw new HttpError(501, {
          message: `fake GitHub does not implement ${ctx.op.operationId}`
        })
    }
  }

  private pullOf(repo: RepoRecord, number: string | undefined): PullRecord {
    const pr = repo.pulls.get(Number(number))
    if (!pr) throw notFound()
    return pr
  }

  private reviewOf(
    repo: RepoRecord,
    pullNumber: string | undefined,
    reviewId: string | undefined
  ): ReviewRecord {
    const review = repo.reviews.get(Number(reviewId))
    if (!review || review.pullNumber !== Number(pullNumber)) throw notFound()
    return review
  }

  /**
   * POST /pulls/{n}/reviews with comments: every comment's lines are checked against the pull
   * request's diff at `commit_id` as GitHub checks them, and one bad comment refuses the whole
   * review with GitHub's 422 and its messages.
   */
  private createReview(
    ctx: Ctx,
    repo: RepoRecord,
    b: Record<string, unknown>
  ): Record<string, unknown> {
    const pr = this.pullOf(repo, ctx.op.params.pull_number)
    const event = b.event === undefined ? undefined : String(b.event)
    const body = b.body === undefined ? '' : String(b.body)
    if ((event === 'COMMENT' || event === 'REQUEST_CHANGES') && body === '') {
      throw new HttpError(422, {
        message: 'Unprocessable Entity',
        errors: [`Review body is required when using ${event}.`],
        documentation_url: DOCS,
        status: '422'
      })
    }
    this.checkBodyLength('PullRequestReview', body)
    const commitId = b.commit_id === undefined ? pr.headSha : String(b.commit_id)
    if (!this.store.commits.has(commitId)) {
      throw unprocessable('Commit does not exist')
    }
    const files = new Map(this.filesOf(repo, pr, commitId).map(f => [f.filename, f]))
    const raw = (b.comments as Array<Record<string, unknown>> | undefined) ?? []
    const errors: string[] = []
    const accepted: Array<Omit<ReviewCommentRecord, 'id' | 'reviewId'>> = []
    for (const c of raw) {
      const commentBody = String(c.body)
      if (commentBody.length > 65536) errors.push('Body is too long (maximum is 65536 characters)')
      const file = files.get(String(c.path))
      if (c.position !== undefined || c.line === undefined) {
        errors.push('This fake only takes line-based comments (line, side, start_line)')
        continue
      }
      if (!file) {
        errors.push('Path could not be resolved')
        continue
      }
      const side = (c.side ?? 'RIGHT') as string
      const line = Number(c.line)
      const start = c.start_line === undefined ? undefined : Number(c.start_line)
      if (side !== 'RIGHT' && side !== 'LEFT') {
        errors.push('Pull request review thread side must be LEFT or RIGHT')
        continue
      }
      if (start !== undefined && (c.start_side ?? side) !== side) {
        errors.push('This fake only takes multi-line comments on one side')
        continue
      }
      const hunks = diffHunks(file.patch, side)
      const hunkOf = (n: number): number => hunks.findIndex(h => n >= h.from && n <= h.to)
      const end = hunkOf(line)
      if (end < 0) {
        errors.push('Pull request review thread line must be part of the diff')
        continue
      }
      if (start !== undefined) {
        if (start >= line) {
          errors.push('Pull request review thread start line must precede the end line.')
          continue
        }
        if (hunkOf(start) !== end) {
          errors.push(
            'Pull request review thread start line must be part of the same hunk as the line.'
          )
          continue
        }
      }
      accepted.push({
        pullNumber: pr.number,
        path: String(c.path),
        line,
        ...(start === undefined ? {} : { startLine: start }),
        side,
        body: commentBody,
        commitId,
        diffHunk: hunks[end]?.text ?? '',
        user: this.user(ctx.grant.login, ctx.grant.type),
        createdAt: now()
      })
    }
    if (errors.length > 0) {
      throw new HttpError(422, {
        message: 'Unprocessable Entity',
        errors: [errors.join(', ')],
        documentation_url: `${DOCS}/pulls/reviews#create-a-review-for-a-pull-request`,
        status: '422'
      })
    }
    const review: ReviewRecord = {
      id: this.id(),
      pullNumber: pr.number,
      body,
      state:
        event === 'APPROVE'
          ? 'APPROVED'
          : event === 'REQUEST_CHANGES'
            ? 'CHANGES_REQUESTED'
            : event === 'COMMENT'
              ? 'COMMENTED'
              : 'PENDING',
      commitId,
      user: this.user(ctx.grant.login, ctx.grant.type),
      submittedAt: now()
    }
    repo.reviews.set(review.id, review)
    for (const comment of accepted) {
      const id = this.id()
      repo.reviewComments.set(id, { ...comment, id, reviewId: review.id })
    }
    return this.reviewJson(repo, review)
  }

  private readonly filesCache = new Map<string, PullFile[]>()

  private filesOf(repo: RepoRecord, pr: PullRecord, commit: string): PullFile[] {
    const baseHead = repo.refs.get(`refs/heads/${pr.baseRef}`)
    if (!baseHead) return []
    const base = this.mergeBase(baseHead, commit) ?? baseHead
    const key = `${base}..${commit}`
    const cached = this.filesCache.get(key)
    if (cached) return cached
    const entries = (sha: string): Map<string, FlatEntry> => {
      const tree = this.store.commits.get(sha)?.tree
      return new Map(tree ? this.store.flatten(tree).map(e => [e.path, e]) : [])
    }
    const before = entries(base)
    const after = entries(commit)
    const removed = [...before.values()].filter(e => !after.has(e.path))
    const files: PullFile[] = []
    const renamedFrom = new Set<string>()
    for (const entry of [...after.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) {
      const old = before.get(entry.path)
      if (old && old.sha === entry.sha && old.mode === entry.mode) continue
      const source = old
        ? undefined
        : removed.find(r => r.sha === entry.sha && !renamedFrom.has(r.path))
      if (source) renamedFrom.add(source.path)
      const diff = this.blobDiff(source ? source.sha : old?.sha, entry.sha)
      files.push({
        filename: entry.path,
        ...(source ? { previousFilename: source.path } : {}),
        status: source ? 'renamed' : old ? 'modified' : 'added',
        sha: entry.sha,
        ...diff
      })
    }
    for (const entry of removed) {
      if (renamedFrom.has(entry.path)) continue
      files.push({
        filename: entry.path,
        status: 'removed',
        sha: entry.sha,
        ...this.blobDiff(entry.sha, undefined)
      })
    }
    this.filesCache.set(key, files)
    return files
  }

  private mergeBase(a: string, b: string): string | undefined {
    const ancestors = new Set<string>()
    const walk = [a]
    while (walk.length > 0) {
      const sha = walk.pop() as string
      if (ancestors.has(sha)) continue
      ancestors.add(sha)
      walk.push(...(this.store.commits.get(sha)?.parents ?? []))
    }
    const queue = [b]
    const seen = new Set<string>()
    while (queue.length > 0) {
      const sha = queue.shift() as string
      if (ancestors.has(sha)) return sha
      if (seen.has(sha)) continue
      seen.add(sha)
      queue.push(...(this.store.commits.get(sha)?.parents ?? []))
    }
    return undefined
  }

  /** Real git's diff of two blobs (undefined: absent), cut to the hunks as GitHub shows them. */
  private blobDiff(
    oldSha: string | undefined,
    newSha: string | undefined
  ): { additions: number; deletions: number; patch?: string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'fake-github-diff-'))
    try {
      const file = (sha: string | undefined, name: string): string => {
        if (!sha) return '/dev/null'
        const target = path.join(dir, name)
        writeFileSync(target, this.store.blobs.get(sha) ?? Buffer.alloc(0))
        return target
      }
      const result = spawnSync(
        'git',
        [
          'diff',
          '--no-index',
          '--no-color',
          '--no-ext-diff',
          '-U3',
          file(oldSha, 'a'),
          file(newSha, 'b')
        ],
        { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } }
      )
      const out = result.stdout ?? ''
      const at = out.search(/^@@ /m)
      if (at < 0) return { additions: 0, deletions: 0 }
      const patch = out.slice(at).replace(/\n$/, '')
      let additions = 0
      let deletions = 0
      for (const line of patch.split('\n')) {
        if (line.startsWith('+')) additions++
        else if (line.startsWith('-')) deletions++
      }
      return { additions, deletions, patch }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  private checkBodyLength(resource: string, body: string): void {
    // GitHub's limit is 65,536 characters; counting UTF-16 units is the stricter reading.
    if (body.length > 65536) {
      throw validationFailed(resource, 'Body is too long (maximum is 65536 characters)', 'body')
    }
  }

  private syncPullHeads(repo: RepoRecord, ref: string, sha: string): void {
    for (const pr of repo.pulls.values()) {
      if (
        `refs/heads/${pr.headRef}` === ref &&
        pr.headRepo.toLowerCase() === `${repo.owner}/${repo.name}`.toLowerCase()
      ) {
        pr.headSha = sha
      }
    }
  }

  private page(
    ctx: Ctx,
    url: URL,
    items: unknown[]
  ): { status: number; body: unknown; headers: Record<string, string> } {
    const perPage = Math.min(Number(ctx.query.get('per_page') ?? 30), 100)
    const page = Math.max(Number(ctx.query.get('page') ?? 1), 1)
    const last = Math.max(Math.ceil(items.length / perPage), 1)
    const headers: Record<string, string> = {}
    const link = (n: number): string => {
      const next = new URL(url.pathname, this.url)
      ctx.query.forEach((v, k) => next.searchParams.set(k, v))
      next.searchParams.set('per_page', String(perPage))
      next.searchParams.set('page', String(n))
      return next.toString()
    }
    const links: string[] = []
    if (page < last) links.push(`<${link(page + 1)}>; rel="next"`, `<${link(last)}>; rel="last"`)
    if (page > 1) links.push(`<${link(1)}>; rel="first"`, `<${link(page - 1)}>; rel="prev"`)
    if (links.length > 0) headers.link = links.join(', ')
    return { status: 200, body: items.slice((page - 1) * perPage, page * perPage), headers }
  }

  // ---- GitHub-shaped bodies -----------------------------------------------------------------

  private id(): number {
    return this.nextId++
  }

  private user(login: string, type: 'Bot' | 'User'): UserRecord {
    let user = this.users.get(login)
    if (!user) {
      user = { login, id: this.id(), type }
      this.users.set(login, user)
    }
    return user
  }

  private userJson(user: UserRecord): Record<string, unknown> {
    return {
      login: user.login,
      id: user.id,
      node_id: nodeId('U', user.id),
      avatar_url: `${this.serverUrl}/avatars/${user.id}`,
      gravatar_id: '',
      url: `${this.url}/users/${encodeURIComponent(user.login)}`,
      html_url: `${this.serverUrl}/${user.login}`,
      type: user.type,
      site_admin: false
    }
  }

  private repoJson(repo: RepoRecord): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    return {
      id: repo.id,
      node_id: nodeId('R', repo.id),
      name: repo.name,
      full_name: full,
      owner: this.userJson(this.user(repo.owner, 'User')),
      private: repo.private,
      html_url: `${this.serverUrl}/${full}`,
      url: `${this.url}/repos/${full}`,
      fork: repo.fork,
      default_branch: repo.defaultBranch,
      visibility: repo.private ? 'private' : 'public'
    }
  }

  private refJson(repo: RepoRecord, ref: string, sha: string): Record<string, unknown> {
    const base = `${this.url}/repos/${repo.owner}/${repo.name}`
    return {
      ref,
      node_id: nodeId('REF', ref),
      url: `${base}/git/${ref}`,
      object: { type: this.store.kindOf(sha) ?? 'commit', sha, url: `${base}/git/commits/${sha}` }
    }
  }

  private treeJson(repo: RepoRecord, sha: string): Record<string, unknown> {
    const base = `${this.url}/repos/${repo.owner}/${repo.name}`
    return {
      sha,
      url: `${base}/git/trees/${sha}`,
      tree: (this.store.trees.get(sha) ?? []).map(e => ({
        path: e.name,
        mode: e.mode,
        type: e.type,
        sha: e.sha,
        ...(e.type === 'blob' ? { size: this.store.blobs.get(e.sha)?.length ?? 0 } : {}),
        url: `${base}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`
      })),
      truncated: false
    }
  }

  private commitJson(repo: RepoRecord, sha: string): Record<string, unknown> {
    const c = this.store.commits.get(sha)
    if (!c) throw notFound()
    const base = `${this.url}/repos/${repo.owner}/${repo.name}`
    const sig = (s: typeof c.author): Record<string, unknown> => ({
      name: s.name,
      email: s.email,
      date: new Date(s.time * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    })
    return {
      sha,
      node_id: nodeId('C', sha),
      url: `${base}/git/commits/${sha}`,
      html_url: `${this.serverUrl}/${repo.owner}/${repo.name}/commit/${sha}`,
      author: sig(c.author),
      committer: sig(c.committer),
      message: c.message,
      tree: { sha: c.tree, url: `${base}/git/trees/${c.tree}` },
      parents: c.parents.map(p => ({
        sha: p,
        url: `${base}/git/commits/${p}`,
        html_url: `${this.serverUrl}/${repo.owner}/${repo.name}/commit/${p}`
      })),
      verification: {
        verified: c.verified,
        reason: c.verified ? 'valid' : 'unsigned',
        signature: c.verified
          ? '-----BEGIN PGP SIGNATURE-----\n(fake)\n-----END PGP SIGNATURE-----'
          : null,
        payload: null,
        verified_at: c.verified ? new Date(c.committer.time * 1000).toISOString() : null
      }
    }
  }

  private commentJson(repo: RepoRecord, c: CommentRecord): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    const kind = repo.pulls.has(c.issueNumber) ? 'pull' : 'issues'
    return {
      id: c.id,
      node_id: nodeId('IC', c.id),
      url: `${this.url}/repos/${full}/issues/comments/${c.id}`,
      html_url: `${this.serverUrl}/${full}/${kind}/${c.issueNumber}#issuecomment-${c.id}`,
      issue_url: `${this.url}/repos/${full}/issues/${c.issueNumber}`,
      body: c.body,
      user: this.userJson(c.user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: 'NONE'
    }
  }

  private labelJson(repo: RepoRecord, name: string): Record<string, unknown> {
    const label = repo.labels.get(name) ?? { id: 0, color: 'ededed' }
    return {
      id: label.id,
      node_id: nodeId('L', label.id),
      url: `${this.url}/repos/${repo.owner}/${repo.name}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: label.color,
      default: false
    }
  }

  private fileJson(repo: RepoRecord, pr: PullRecord, f: PullFile): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    const name = encodeURIComponent(f.filename)
    return {
      sha: f.sha,
      filename: f.filename,
      status: f.status,
      additions: f.additions,
      deletions: f.deletions,
      changes: f.additions + f.deletions,
      blob_url: `${this.serverUrl}/${full}/blob/${pr.headSha}/${name}`,
      raw_url: `${this.serverUrl}/${full}/raw/${pr.headSha}/${name}`,
      contents_url: `${this.url}/repos/${full}/contents/${name}?ref=${pr.headSha}`,
      ...(f.patch === undefined ? {} : { patch: f.patch }),
      ...(f.previousFilename ? { previous_filename: f.previousFilename } : {})
    }
  }

  private reviewJson(repo: RepoRecord, r: ReviewRecord): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    const html = `${this.serverUrl}/${full}/pull/${r.pullNumber}#pullrequestreview-${r.id}`
    const pullUrl = `${this.url}/repos/${full}/pulls/${r.pullNumber}`
    return {
      id: r.id,
      node_id: nodeId('PRR', r.id),
      user: this.userJson(r.user),
      body: r.body,
      state: r.state,
      html_url: html,
      pull_request_url: pullUrl,
      _links: { html: { href: html }, pull_request: { href: pullUrl } },
      submitted_at: r.submittedAt,
      commit_id: r.commitId,
      author_association: 'NONE'
    }
  }

  private reviewCommentJson(repo: RepoRecord, c: ReviewCommentRecord): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    const url = `${this.url}/repos/${full}/pulls/comments/${c.id}`
    const html = `${this.serverUrl}/${full}/pull/${c.pullNumber}#discussion_r${c.id}`
    const pullUrl = `${this.url}/repos/${full}/pulls/${c.pullNumber}`
    return {
      id: c.id,
      node_id: nodeId('PRRC', c.id),
      url,
      pull_request_review_id: c.reviewId,
      diff_hunk: c.diffHunk,
      path: c.path,
      position: null,
      original_position: null,
      commit_id: c.commitId,
      original_commit_id: c.commitId,
      user: this.userJson(c.user),
      body: c.body,
      created_at: c.createdAt,
      updated_at: c.createdAt,
      html_url: html,
      pull_request_url: pullUrl,
      author_association: 'NONE',
      _links: { self: { href: url }, html: { href: html }, pull_request: { href: pullUrl } },
      line: c.line,
      original_line: c.line,
      side: c.side,
      ...(c.startLine === undefined
        ? { start_line: null, original_start_line: null, start_side: null }
        : { start_line: c.startLine, original_start_line: c.startLine, start_side: c.side })
    }
  }

  private pullJson(repo: RepoRecord, pr: PullRecord): Record<string, unknown> {
    const full = `${repo.owner}/${repo.name}`
    const headRepo = this.repos.get(pr.headRepo.toLowerCase())
    const branchJson = (
      ref: string,
      sha: string,
      owner: string,
      r: RepoRecord | undefined
    ): Record<string, unknown> => ({
      label: `${owner}:${ref}`,
      ref,
      sha,
      user: this.userJson(this.user(owner, 'User')),
      repo: r ? this.repoJson(r) : null
    })
    const baseSha = repo.refs.get(`refs/heads/${pr.baseRef}`) ?? ''
    return {
      id: pr.id,
      node_id: nodeId('PR', pr.id),
      number: pr.number,
      url: `${this.url}/repos/${full}/pulls/${pr.number}`,
      html_url: `${this.serverUrl}/${full}/pull/${pr.number}`,
      diff_url: `${this.serverUrl}/${full}/pull/${pr.number}.diff`,
      patch_url: `${this.serverUrl}/${full}/pull/${pr.number}.patch`,
      issue_url: `${this.url}/repos/${full}/issues/${pr.number}`,
      state: pr.state,
      locked: false,
      title: pr.title,
      body: pr.body,
      draft: pr.draft,
      user: this.userJson(pr.user),
      labels: pr.labels.map(n => this.labelJson(repo, n)),
      head: branchJson(pr.headRef, pr.headSha, pr.headRepo.split('/')[0] as string, headRepo),
      base: branchJson(pr.baseRef, baseSha, repo.owner, repo),
      merged: false,
      created_at: pr.createdAt,
      updated_at: pr.updatedAt,
      closed_at: null,
      merged_at: null,
      author_association: 'NONE'
    }
  }
}

/** The line ranges of a file patch's hunks on one side, with each hunk's text. */
function diffHunks(
  patch: string | undefined,
  side: 'LEFT' | 'RIGHT'
): Array<{ from: number; to: number; text: string }> {
  if (!patch) return []
  const out: Array<{ from: number; to: number; text: string }> = []
  const lines = patch.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[i] as string)
    if (!m) continue
    const start = Number(side === 'RIGHT' ? m[3] : m[1])
    const count = Number((side === 'RIGHT' ? m[4] : m[2]) ?? 1)
    let end = i + 1
    while (end < lines.length && !/^@@ /.test(lines[end] as string)) end++
    if (count > 0)
      out.push({ from: start, to: start + count - 1, text: lines.slice(i, end).join('\n') })
  }
  return out
}

function nodeId(kind: string, id: string | number): string {
  return `${kind}_${Buffer.from(String(id)).toString('base64url')}`
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-github-api-version-selected': '2022-11-28',
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    ...headers
  })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** The usual token: the workflow's GITHUB_TOKEN with every permission publishing needs. */
export const WRITE_ALL: TokenGrant = {
  login: 'github-actions[bot]',
  type: 'Bot',
  permissions: { contents: 'write', pull_requests: 'write', issues: 'write' }
}

/**
 * Script entry: `tsx __tests__/servers/fake-github.ts --repo o/n [--seed DIR [--branch main]]
 * [--token T]`. Prints {"url", "heads"} as one JSON line, then serves until killed.
 */
async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const fake = await FakeGitHub.start({ port: Number(arg('port') ?? 0) })
  const fullName = arg('repo') ?? 'octo/repo'
  const branch = arg('branch') ?? 'main'
  fake.addRepo(fullName, { defaultBranch: branch })
  fake.addToken(arg('token') ?? 'fake-token', WRITE_ALL)
  const seed = arg('seed')
  const heads = seed ? await fake.seedFromGit(fullName, seed, { [branch]: 'HEAD' }) : {}
  process.stdout.write(`${JSON.stringify({ url: fake.url, heads })}\n`)
  const stop = (): void => {
    void fake.stop().then(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  })
}
