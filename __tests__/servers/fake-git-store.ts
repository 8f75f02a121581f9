import { createHash } from 'node:crypto'
import { createGit } from '../../src/git/git.js'

/**
 * A git object database in memory with real object ids: blob, tree and commit ids are computed
 * exactly as git computes them, so a tree built through the fake GitHub API can be compared with
 * `git write-tree` of the same content, and a repository seeded from a real checkout has the
 * same ids as that checkout.
 */

export type EntryMode = '100644' | '100755' | '120000' | '040000' | '160000'
export type EntryType = 'blob' | 'tree' | 'commit'

export interface TreeEntry {
  name: string
  mode: EntryMode
  type: EntryType
  sha: string
}

export interface Signature {
  name: string
  email: string
  /** Seconds since the epoch. */
  time: number
  /** e.g. +0000 */
  tz: string
}

export interface CommitObject {
  tree: string
  parents: string[]
  author: Signature
  committer: Signature
  message: string
  /** Signed by the fake "GitHub" (made through the API without a custom author). */
  verified: boolean
}

export interface FlatEntry {
  path: string
  mode: EntryMode
  type: EntryType
  sha: string
  size?: number
}

/** A change to a tree, as the create-tree operation describes it. */
export interface TreeChange {
  path: string
  mode: EntryMode
  type: EntryType
  /** null deletes the path. */
  sha?: string | null
  content?: string
}

export class GitStoreError extends Error {}

export class GitStore {
  readonly blobs = new Map<string, Buffer>()
  readonly trees = new Map<string, TreeEntry[]>()
  readonly commits = new Map<string, CommitObject>()

  putBlob(content: Buffer): string {
    const sha = objectId('blob', content)
    if (!this.blobs.has(sha)) this.blobs.set(sha, content)
    return sha
  }

  putTree(entries: TreeEntry[]): string {
    const sorted = [...entries].sort(compareEntries)
    const sha = objectId('tree', serializeTree(sorted))
    if (!this.trees.has(sha)) this.trees.set(sha, sorted)
    return sha
  }

  putCommit(commit: CommitObject): string {
    const sha = objectId('commit', Buffer.from(serializeCommit(commit), 'utf8'))
    if (!this.commits.has(sha)) this.commits.set(sha, commit)
    return sha
  }

  kindOf(sha: string): EntryType | undefined {
    if (this.blobs.has(sha)) return 'blob'
    if (this.trees.has(sha)) return 'tree'
    if (this.commits.has(sha)) return 'commit'
    return undefined
  }

  /** Every entry below a tree, depth first, with paths relative to it. */
  flatten(treeSha: string, prefix = ''): FlatEntry[] {
    const entries = this.trees.get(treeSha)
    if (!entries) throw new GitStoreError(`no tree ${treeSha}`)
    const out: FlatEntry[] = []
    for (const e of entries) {
      const path = prefix + e.name
      const size = e.type === 'blob' ? this.blobs.get(e.sha)?.length : undefined
      out.push({
        path,
        mode: e.mode,
        type: e.type,
        sha: e.sha,
        ...(size === undefined ? {} : { size })
      })
      if (e.type === 'tree') out.push(...this.flatten(e.sha, `${path}/`))
    }
    return out
  }

  /** True when `ancestor` is `descendant` or one of its ancestors. */
  isAncestor(ancestor: string, descendant: string): boolean {
    const seen = new Set<string>()
    const queue = [descendant]
    while (queue.length > 0) {
      const sha = queue.pop() as string
      if (sha === ancestor) return true
      if (seen.has(sha)) continue
      seen.add(sha)
      queue.push(...(this.commits.get(sha)?.parents ?? []))
    }
    return false
  }

  /**
   * The create-tree operation: apply `changes` (nested paths allowed) on top of `baseTree`, or on
   * an empty tree. Deleting a path that does not exist is an error, as on GitHub; directories
   * left empty disappear, as git cannot store them.
   */
  applyChanges(baseTree: string | undefined, changes: TreeChange[]): string {
    const root = new Dir(this, baseTree)
    for (const change of changes) {
      const parts = change.path.split('/')
      if (parts.some(p => p === '' || p === '.' || p === '..' || p === '.git')) {
        throw new GitStoreError(`tree.path contains a malformed path component: ${change.path}`)
      }
      const name = parts.pop() as string
      let dir = root
      for (const part of parts) dir = dir.subdir(part, change.path, change.sha !== null)
      if (change.sha === null) {
        if (!dir.remove(name)) throw new GitStoreError(`path '${change.path}' does not exist`)
        continue
      }
      let sha: string
      if (change.content !== undefined) {
        sha = this.putBlob(Buffer.from(change.content, 'utf8'))
      } else {
        sha = change.sha as string
        const kind = this.kindOf(sha)
        if (change.type !== 'commit' && kind !== change.type) {
          throw new GitStoreError(`tree.sha ${sha} is not a valid ${change.type}`)
        }
      }
      dir.set(name, { name, mode: change.mode, type: change.type, sha })
    }
    return root.write()
  }
}

/** A directory being edited; untouched subtrees keep their ids without being loaded. */
class Dir {
  private readonly entries = new Map<string, TreeEntry | Dir>()

  constructor(
    private readonly store: GitStore,
    sha: string | undefined
  ) {
    if (sha === undefined) return
    const entries = store.trees.get(sha)
    if (!entries) throw new GitStoreError(`base_tree ${sha} is not a tree`)
    for (const e of entries) this.entries.set(e.name, e)
  }

  subdir(name: string, fullPath: string, create: boolean): Dir {
    const existing = this.entries.get(name)
    if (existing instanceof Dir) return existing
    if (existing === undefined) {
      if (!create) throw new GitStoreError(`path '${fullPath}' does not exist`)
      const dir = new Dir(this.store, undefined)
      this.entries.set(name, dir)
      return dir
    }
    if (existing.type !== 'tree') {
      throw new GitStoreError(`'${fullPath}' needs '${name}' to be a directory, but it is a file`)
    }
    const dir = new Dir(this.store, existing.sha)
    this.entries.set(name, dir)
    return dir
  }

  set(name: string, entry: TreeEntry): void {
    this.entries.set(name, entry)
  }

  remove(name: string): boolean {
    return this.entries.delete(name)
  }

  write(): string {
    const out: TreeEntry[] = []
    for (const [name, value] of this.entries) {
      if (value instanceof Dir) {
        if (value.entries.size === 0) continue
        const sha = value.write()
        if ((this.store.trees.get(sha) ?? []).length === 0) continue
        out.push({ name, mode: '040000', type: 'tree', sha })
      } else {
        out.push(value)
      }
    }
    return this.store.putTree(out)
  }
}

export function objectId(type: string, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex')
}

/** git's order: byte order of names, with a tree's name compared as if it ended in '/'. */
function compareEntries(a: TreeEntry, b: TreeEntry): number {
  const ka = Buffer.from(a.type === 'tree' ? `${a.name}/` : a.name, 'utf8')
  const kb = Buffer.from(b.type === 'tree' ? `${b.name}/` : b.name, 'utf8')
  return Buffer.compare(ka, kb)
}

function serializeTree(entries: TreeEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    const mode = e.mode === '040000' ? '40000' : e.mode
    parts.push(Buffer.from(`${mode} ${e.name}\0`, 'utf8'), Buffer.from(e.sha, 'hex'))
  }
  return Buffer.concat(parts)
}

function formatSignature(s: Signature): string {
  return `${s.name} <${s.email}> ${s.time} ${s.tz}`
}

function serializeCommit(c: CommitObject): string {
  const lines = [`tree ${c.tree}`, ...c.parents.map(p => `parent ${p}`)]
  lines.push(`author ${formatSignature(c.author)}`, `committer ${formatSignature(c.committer)}`)
  return `${lines.join('\n')}\n\n${c.message}`
}

function parseSignature(text: string): Signature {
  const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(text)
  if (!m) throw new GitStoreError(`bad signature: ${text}`)
  return { name: m[1] as string, email: m[2] as string, time: Number(m[3]), tz: m[4] as string }
}

/**
 * Copies every object reachable from `revs` of a real repository into the store, keeping ids.
 * Returns the commit id each rev names.
 */
export async function importFromGit(
  store: GitStore,
  repoDir: string,
  revs: string[]
): Promise<Record<string, string>> {
  const git = createGit(repoDir)
  const resolved: Record<string, string> = {}
  for (const rev of revs)
    resolved[rev] = await git.text(['rev-parse', '--verify', `${rev}^{commit}`])
  const list = await git.text(['rev-list', '--objects', ...Object.values(resolved)])
  const ids = list
    .split('\n')
    .map(line => line.slice(0, 40))
    .filter(id => /^[0-9a-f]{40}$/.test(id))
  const out = (await git.run(['cat-file', '--batch'], { input: `${ids.join('\n')}\n` })).stdout
  let offset = 0
  while (offset < out.length) {
    const headerEnd = out.indexOf(0x0a, offset)
    const [sha, type, sizeText] = out.subarray(offset, headerEnd).toString('utf8').split(' ')
    const size = Number(sizeText)
    const body = out.subarray(headerEnd + 1, headerEnd + 1 + size)
    offset = headerEnd + 1 + size + 1
    let stored: string
    if (type === 'blob') stored = store.putBlob(Buffer.from(body))
    else if (type === 'tree') stored = store.putTree(parseTree(body))
    else if (type === 'commit') stored = store.putCommit(parseCommit(body.toString('utf8')))
    else continue
    if (stored !== sha) {
      throw new GitStoreError(
        `imported ${type} ${sha} re-serialized as ${stored} (unsupported form)`
      )
    }
  }
  return resolved
}

function parseTree(body: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = []
  let offset = 0
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset)
    const nul = body.indexOf(0, space)
    const rawMode = body.subarray(offset, space).toString('utf8')
    const name = body.subarray(space + 1, nul).toString('utf8')
    const sha = body.subarray(nul + 1, nul + 21).toString('hex')
    offset = nul + 21
    const mode = (rawMode === '40000' ? '040000' : rawMode) as EntryMode
    const type: EntryType = mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob'
    entries.push({ name, mode, type, sha })
  }
  return entries
}

function parseCommit(text: string): CommitObject {
  const split = text.indexOf('\n\n')
  const headers = text.slice(0, split).split('\n')
  const message = text.slice(split + 2)
  const commit: CommitObject = {
    tree: '',
    parents: [],
    author: { name: '', email: '', time: 0, tz: '+0000' },
    committer: { name: '', email: '', time: 0, tz: '+0000' },
    message,
    verified: false
  }
  for (const line of headers) {
    const [key, ...rest] = line.split(' ')
    const value = rest.join(' ')
    if (key === 'tree') commit.tree = value
    else if (key === 'parent') commit.parents.push(value)
    else if (key === 'author') commit.author = parseSignature(value)
    else if (key === 'committer') commit.committer = parseSignature(value)
    else throw new GitStoreError(`commit header ${key} is not supported by the fake`)
  }
  return commit
}
