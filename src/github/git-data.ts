import type { ChangedFile } from '../git/patch.js'
import { attempt, type GitHubClient, type Logger, type Operation } from './client.js'

/**
 * Writes a change as a commit through the Git Data API (no git push): the commit is made by
 * GitHub for the token, so it is signed ("Verified") when the token is a bot's, and a token
 * that may not push workflows can still publish everything else.
 *
 * The change is sent as a few tree requests rather than one blob request per file: GitHub asks
 * integrations to space content-creating requests about a second apart and flags bursts of them,
 * so 2,000 blob uploads would take half an hour or be refused. Text files travel inline in the
 * tree requests (each kept near 2 MB, above which GitHub's tree endpoint starts to time out);
 * binary and very large files are uploaded as base64 blobs; each tree request builds on the
 * previous one's result (base_tree), so the batches chain into one final tree.
 */

export interface RepoId {
  owner: string
  repo: string
}

/** An entry of a create-tree request. */
interface TreeEntry {
  path: string
  mode: '100644' | '100755' | '040000' | '160000' | '120000'
  type: 'blob' | 'tree' | 'commit'
  sha?: string | null
  content?: string
}

export interface WriteTreeOptions {
  client: GitHubClient
  repo: RepoId
  /** Tree the change is applied on (the parent commit's tree). */
  baseTree: string
  files: readonly ChangedFile[]
  /** Reads new blob contents by object id (from the local repository). */
  readBlobs: (shas: string[]) => Promise<Map<string, Buffer>>
  log?: Logger
  /** Upper bound of one tree request's JSON body (default 2,000,000 bytes). */
  batchBytes?: number
  /** Text files up to this size travel inline (default 1 MiB); larger ones as blobs. */
  inlineMaxBytes?: number
}

export interface WriteTreeResult {
  tree: string
  treeRequests: number
  blobRequests: number
}

const CONTENTS_WRITE: Operation['permissions'] = ['contents: write']
const MAX_ENTRIES_PER_REQUEST = 1000

type Mode = TreeEntry['mode']

function entryMode(mode: string | undefined): Mode {
  if (mode === '100755' || mode === '120000' || mode === '160000') return mode
  return '100644'
}

function typeFor(mode: Mode): TreeEntry['type'] {
  return mode === '160000' ? 'commit' : mode === '040000' ? 'tree' : 'blob'
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Bytes that survive a trip through a JSON string unchanged: valid UTF-8 without NUL. */
function asText(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return undefined
  try {
    const text = utf8.decode(bytes)
    return Buffer.byteLength(text, 'utf8') === bytes.length ? text : undefined
  } catch {
    return undefined
  }
}

function deletion(path: string, oldMode: string | undefined): TreeEntry {
  const mode = entryMode(oldMode)
  return { path, mode, type: typeFor(mode), sha: null }
}

/** True when one path is a directory prefix of another (a file becomes a directory, or back). */
function directoryClash(deleted: string[], written: string[]): boolean {
  const all = new Set([...deleted, ...written])
  for (const path of all) {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      if (all.has(parts.slice(0, i).join('/'))) return true
    }
  }
  return false
}

export async function writeTree(options: WriteTreeOptions): Promise<WriteTreeResult> {
  const { client, repo } = options
  const batchLimit = options.batchBytes ?? 2_000_000
  const inlineMax = options.inlineMaxBytes ?? 1024 * 1024
  let tree = options.baseTree
  let treeRequests = 0
  let blobRequests = 0

  const deletions: TreeEntry[] = []
  const writes: ChangedFile[] = []
  for (const file of options.files) {
    if (file.status === 'deleted') {
      deletions.push(deletion(file.path, file.oldMode))
      continue
    }
    if (file.status === 'renamed' && file.oldPath !== undefined) {
      deletions.push(deletion(file.oldPath, file.oldMode))
    }
    writes.push(file)
  }

  let batch: TreeEntry[] = []
  let batchSize = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const entries = batch
    batch = []
    batchSize = 0
    const response = await attempt({ what: 'create a git tree', permissions: CONTENTS_WRITE }, () =>
      client.rest.git.createTree({ ...repo, base_tree: tree, tree: entries })
    )
    tree = response.data.sha
    treeRequests++
  }
  const add = async (entry: TreeEntry): Promise<void> => {
    const size = JSON.stringify(entry).length + 1
    if (
      batch.length > 0 &&
      (batchSize + size > batchLimit || batch.length >= MAX_ENTRIES_PER_REQUEST)
    ) {
      await flush()
    }
    batch.push(entry)
    batchSize += size
  }

  for (const entry of deletions) await add(entry)
  // When a file turns into a directory (or back), the removal must land before the addition.
  if (
    directoryClash(
      deletions.map(d => d.path),
      writes.map(w => w.path)
    )
  )
    await flush()

  // Read contents in groups of about one request's worth, so memory stays near one batch.
  let group: ChangedFile[] = []
  let groupBytes = 0
  const processGroup = async (): Promise<void> => {
    const shas = group.flatMap(f => (f.newSha && f.newMode !== '160000' ? [f.newSha] : []))
    const contents = await options.readBlobs(shas)
    for (const file of group) {
      const mode = entryMode(file.newMode)
      if (!file.newSha) throw new Error(`${JSON.stringify(file.path)} has no new object id`)
      if (mode === '160000') {
        await add({ path: file.path, mode, type: 'commit', sha: file.newSha })
        continue
      }
      const bytes = contents.get(file.newSha)
      if (!bytes) throw new Error(`the content of ${JSON.stringify(file.path)} is missing`)
      // Empty files go as blobs: the API documents empty blobs, not empty inline content.
      const text = bytes.length > 0 && bytes.length <= inlineMax ? asText(bytes) : undefined
      if (text !== undefined) {
        await add({ path: file.path, mode, type: 'blob', content: text })
        continue
      }
      const blob = await attempt(
        { what: `upload ${JSON.stringify(file.path)}`, permissions: CONTENTS_WRITE },
        () =>
          client.rest.git.createBlob({
            ...repo,
            content: bytes.toString('base64'),
            encoding: 'base64'
          })
      )
      blobRequests++
      if (blob.data.sha !== file.newSha) {
        throw new Error(
          `GitHub stored ${JSON.stringify(file.path)} as ${blob.data.sha}, expected ${file.newSha}; nothing was published`
        )
      }
      await add({ path: file.path, mode, type: 'blob', sha: blob.data.sha })
    }
    group = []
    groupBytes = 0
  }
  for (const file of writes) {
    const size = file.size ?? 0
    if (group.length > 0 && groupBytes + size > batchLimit) await processGroup()
    group.push(file)
    groupBytes += size
  }
  await processGroup()
  await flush()
  options.log?.info(
    `Sent the change as ${treeRequests} tree request(s) and ${blobRequests} blob upload(s)`
  )
  return { tree, treeRequests, blobRequests }
}

/** The tree of a commit. */
export async function commitTree(client: GitHubClient, repo: RepoId, sha: string): Promise<string> {
  const commit = await attempt(
    { what: `read commit ${sha.slice(0, 12)}`, permissions: ['contents: read'] },
    () => client.rest.git.getCommit({ ...repo, commit_sha: sha })
  )
  return commit.data.tree.sha
}

export async function createCommit(
  client: GitHubClient,
  repo: RepoId,
  commit: { message: string; tree: string; parent: string }
): Promise<string> {
  // No author or committer: GitHub then signs the commit as the token's identity.
  const response = await attempt({ what: 'create the commit', permissions: CONTENTS_WRITE }, () =>
    client.rest.git.createCommit({
      ...repo,
      message: commit.message,
      tree: commit.tree,
      parents: [commit.parent]
    })
  )
  return response.data.sha
}

/** The commit a branch points at, or undefined when it does not exist. */
export async function branchHead(
  client: GitHubClient,
  repo: RepoId,
  branch: string
): Promise<string | undefined> {
  try {
    const response = await client.rest.git.getRef({ ...repo, ref: `heads/${branch}` })
    return response.data.object.sha
  } catch (error: unknown) {
    if (
      typeof error === 'object' &&
      error !== null &&
      (error as { status?: unknown }).status === 404
    ) {
      return undefined
    }
    throw error
  }
}

export interface FlatTreeEntry {
  path: string
  mode: string
  type: string
  sha: string
}

/** Every entry of a tree, recursively, or undefined when GitHub truncated the listing. */
export async function listTree(
  client: GitHubClient,
  repo: RepoId,
  tree: string
): Promise<Map<string, FlatTreeEntry> | undefined> {
  const response = await attempt(
    { what: 'read the branch tree', permissions: ['contents: read'] },
    () => client.rest.git.getTree({ ...repo, tree_sha: tree, recursive: 'true' })
  )
  if (response.data.truncated) return undefined
  const entries = new Map<string, FlatTreeEntry>()
  for (const e of response.data.tree) {
    if (e.path && e.sha && e.mode && e.type)
      entries.set(e.path, { path: e.path, mode: e.mode, type: e.type, sha: e.sha })
  }
  return entries
}
