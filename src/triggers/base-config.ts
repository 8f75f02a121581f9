import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  rmdir,
  symlink,
  writeFile
} from 'node:fs/promises'
import { join, posix } from 'node:path'
import { ConfigurationError, errorMessage } from '../errors.js'
import { createGit, type Git } from '../git/git.js'

/**
 * On a pull request the agent's own configuration must come from the base branch: a pull request
 * that edits CLAUDE.md, .claude/settings.json (hooks, permissions, MCP servers) or .mcp.json
 * could otherwise instruct the agent that reviews it.
 *
 * The base versions are put into the working tree only — the index and HEAD are not touched —
 * and taken out again before the patch is made: otherwise the swap itself would show up in the
 * agent's patch as a change to those files. So the lead's sequence is
 *
 *     const swap = await useBaseBranchAgentConfig(workspace, baseSha, { token })
 *     ... run the agent ...
 *     const { discarded } = await restoreHeadAgentConfig(workspace, swap)  // warn about discarded
 *     ... make the patch ...
 *
 * Changes the agent makes to these files during such a run are discarded on restore (they were
 * made against the base versions, so they cannot be applied to the head's) and reported.
 *
 * Which paths: every `.claude/` directory's contents (at any depth), every `CLAUDE.md` and
 * `CLAUDE.local.md` (Claude Code reads nested ones when it works in that directory), and the
 * root `.mcp.json`. Files present only in the head are removed for the run; ignored local files
 * at the root (`.claude/settings.local.json`, `CLAUDE.local.md`) are included.
 *
 * Files are never written or removed through a symbolic link: a path whose parent directory is a
 * link (or a file) in the working tree is skipped and reported.
 *
 * `@path` imports: Claude Code reads the files a memory file names as `@path` (relative to that
 * file, or absolute, or `~/…`), up to five hops deep, from the disk — inside the container that
 * is /workspace, the pull request's head. So every Markdown config file placed from the base is
 * rewritten: each import is made inert (put in a code span, which the CLI does not read imports
 * from) and, where it names a file of the repository, that file's base-branch version is
 * appended below, with its own imports handled the same way (see withBaseImports). Imports
 * leaving the repository (`~/`, other absolute paths) are made inert and not followed.
 */

export type EntryState =
  | { kind: 'absent' }
  | { kind: 'file'; executable: boolean; base64: string }
  | { kind: 'symlink'; target: string }
  /** A directory or something else that is not a file: never produced by placement. */
  | { kind: 'other' }

export interface SwappedEntry {
  path: string
  /** The working tree's version before the swap (the head's, for a fresh checkout). */
  original: EntryState
  /** What was put there: the base branch's version, or absent. */
  placed: EntryState
}

/** What useBaseBranchAgentConfig changed; plain JSON, so it can be saved as state. */
export interface AgentConfigSwap {
  baseSha: string
  /** Only the paths whose working-tree version actually changed. */
  entries: SwappedEntry[]
  /** Directories created for base files, parents first; removed again on restore if empty. */
  createdDirs: string[]
  /** Config paths left alone because a parent in the working tree is a link or a file. */
  skipped: string[]
}

export interface RestoreResult {
  /** Config paths the agent changed during the run; its changes to them were dropped. */
  discarded: string[]
  /** Paths that could not be put back because the agent put a link or file in the way. */
  skipped: string[]
}

/** True for the files Claude Code reads as its own configuration. */
export function isAgentConfigPath(path: string): boolean {
  const parts = path.split('/')
  const name = parts[parts.length - 1]
  if (path === '.mcp.json') return true
  if (name === 'CLAUDE.md' || name === 'CLAUDE.local.md') return true
  return parts.includes('.claude')
}

export interface BaseConfigOptions {
  /**
   * Token to fetch the base commit with when the checkout lacks it (a private repository checked
   * out with persist-credentials: false). Passed to git through its environment, never argv.
   */
  token?: string
}

export async function useBaseBranchAgentConfig(
  workspace: string,
  baseSha: string,
  options: BaseConfigOptions = {}
): Promise<AgentConfigSwap> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(baseSha))
    throw new Error(`the pull request's base commit "${baseSha}" is not a commit id`)
  const git = createGit(workspace)
  await ensureCommit(git, baseSha, options.token)

  const base = await listConfigBlobs(git, baseSha)
  const head = await listConfigBlobs(git, 'HEAD')
  const candidates = new Set<string>([...base.keys(), ...head.keys()])
  for (const path of await untrackedConfigPaths(git, workspace)) candidates.add(path)

  const swap: AgentConfigSwap = { baseSha, entries: [], createdDirs: [], skipped: [] }
  const planned: SwappedEntry[] = []
  for (const path of [...candidates].sort()) {
    const original = await readState(workspace, path)
    // A directory (or device, or socket) where a config file belongs: leave it, say so.
    if (original.kind === 'other') {
      swap.skipped.push(path)
      continue
    }
    const blob = base.get(path)
    let placed: EntryState = blob ? await blobState(git, blob) : { kind: 'absent' }
    if (placed.kind === 'file' && path.endsWith('.md')) {
      const text = Buffer.from(placed.base64, 'base64').toString('utf8')
      const rewritten = await withBaseImports(git, baseSha, path, text)
      if (rewritten !== text)
        placed = { ...placed, base64: Buffer.from(rewritten, 'utf8').toString('base64') }
    }
    if (!sameState(original, placed)) planned.push({ path, original, placed })
  }

  // Remove first, deepest first, so a head file or link never stands where a base directory goes.
  for (const entry of [...planned].sort(deepestFirst)) {
    if (entry.original.kind === 'absent') continue
    if (!(await removeEntry(workspace, entry.path))) swap.skipped.push(entry.path)
  }
  for (const entry of planned) {
    if (swap.skipped.includes(entry.path)) continue
    if (entry.placed.kind !== 'absent') {
      const ready = await prepareParents(workspace, entry.path, swap.createdDirs)
      if (!ready) {
        swap.skipped.push(entry.path)
        if (entry.original.kind === 'absent') continue
        entry.placed = { kind: 'absent' }
      } else {
        // A head directory emptied above may stand where the base has a file.
        await rmdir(join(workspace, entry.path)).catch(() => undefined)
        await writeEntry(workspace, entry.path, entry.placed)
      }
    }
    swap.entries.push(entry)
  }
  return swap
}

export async function restoreHeadAgentConfig(
  workspace: string,
  swap: AgentConfigSwap
): Promise<RestoreResult> {
  const result: RestoreResult = { discarded: [], skipped: [] }
  for (const entry of [...swap.entries].sort(deepestFirst)) {
    const current = await readState(workspace, entry.path)
    if (!sameState(current, entry.placed)) result.discarded.push(entry.path)
    if (current.kind !== 'absent' && !(await removeEntry(workspace, entry.path)))
      result.skipped.push(entry.path)
  }
  for (const dir of [...swap.createdDirs].reverse()) {
    // Only empty ones: the agent may have put its own new files there.
    await rmdir(join(workspace, dir)).catch(() => undefined)
  }
  const discardParent = (path: string): void => {
    result.discarded.push(path)
  }
  for (const entry of swap.entries) {
    if (entry.original.kind === 'absent' || result.skipped.includes(entry.path)) continue
    if (!(await prepareParents(workspace, entry.path, [], discardParent))) {
      result.skipped.push(entry.path)
      continue
    }
    await writeEntry(workspace, entry.path, entry.original)
  }
  result.discarded.sort()
  return result
}

// --- @path imports -------------------------------------------------------------------------

/** Claude Code's import depth (five hops), and our bounds on what is inlined. */
const MAX_IMPORT_DEPTH = 5
const MAX_IMPORTED_FILES = 20
const MAX_IMPORTED_BYTES = 256 * 1024
/** Where the repository is inside the container: an absolute import under it is a repo path. */
const CONTAINER_WORKSPACE = '/workspace/'

/** An `@` a memory file's Markdown could make an import of (not an e-mail address's). */
const IMPORT_TOKEN = /(?<![A-Za-z0-9])@((?:[^\s\\`]|\\ )+)/g

/** Characters that end a sentence or close Markdown around an import rather than belong to it. */
const TRAILING_PUNCTUATION = /[*_~)\]>.,;:!?'"]+$/

/**
 * What Claude Code (2.1.330) would read for an import token: the path without a `#fragment`,
 * with `\ ` unescaped, if it is one it follows (`./x`, `~/x`, `/x`, or a name starting with a
 * letter, digit, `.`, `_` or `-`); undefined otherwise.
 */
export function importTarget(token: string): string | undefined {
  const path = token.split('#')[0]?.replaceAll('\\ ', ' ') ?? ''
  if (path === '' || path === '/') return undefined
  if (path.startsWith('./') || path.startsWith('~/') || path.startsWith('/')) return path
  if (/^[A-Za-z0-9._-]/.test(path)) return path
  return undefined
}

/**
 * The repository path an import in `fromPath` names, or undefined when it leaves the repository
 * (home, other absolute paths, `..` above the root, `.git`).
 */
export function importRepoPath(fromPath: string, target: string): string | undefined {
  if (target.startsWith('~')) return undefined
  const joined = target.startsWith('/')
    ? target.startsWith(CONTAINER_WORKSPACE)
      ? target.slice(CONTAINER_WORKSPACE.length)
      : undefined
    : posix.join(posix.dirname(fromPath), target)
  if (joined === undefined) return undefined
  const normal = posix.normalize(joined)
  if (normal === '.' || normal.startsWith('../') || normal === '..' || normal.startsWith('/'))
    return undefined
  if (normal.split('/').includes('.git')) return undefined
  return normal
}

/**
 * Makes every import in `text` inert: outside fenced code blocks and code spans (where the CLI
 * reads none), each `@path` it would follow becomes a code span. Returns the new text and the
 * import targets, in order.
 */
export function neutraliseImports(text: string): { text: string; targets: string[] } {
  const targets: string[] = []
  const out: string[] = []
  let fence: string | undefined
  for (const line of text.split('\n')) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1]
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
      out.push(line)
      continue
    }
    if (marker) {
      fence = marker
      out.push(line)
      continue
    }
    // Code spans stay as they are; only the text between them is rewritten.
    const parts = line.split(/(`+[^`]*?`+)/)
    out.push(
      parts
        .map((part, index) =>
          index % 2 === 1
            ? part
            : part.replace(IMPORT_TOKEN, (match, token: string) => {
                if (importTarget(token) === undefined) return match
                // `**@docs/a.md**.`: Markdown's emphasis and the sentence's full stop are not
                // part of the path the author meant (the CLI's Markdown parser agrees).
                const core = token.replace(TRAILING_PUNCTUATION, '')
                const target = importTarget(core)
                if (target === undefined) return `\`${match}\``
                targets.push(target)
                return `${match.slice(0, match.indexOf('@'))}\`@${core}\`${token.slice(core.length)}`
              })
        )
        .join('')
    )
  }
  return { text: out.join('\n'), targets }
}

/**
 * `text` (a base-branch Markdown config file at `path`) with its imports made inert and the
 * base-branch versions of the repository files they name appended, recursively up to Claude
 * Code's depth, each file once, within MAX_IMPORTED_FILES and MAX_IMPORTED_BYTES. A text
 * without imports is returned unchanged.
 */
export async function withBaseImports(
  git: Git,
  baseSha: string,
  path: string,
  text: string
): Promise<string> {
  const first = neutraliseImports(text)
  if (first.targets.length === 0) return text
  const sections: string[] = []
  const seen = new Set<string>([path])
  let bytes = 0
  const queue = first.targets.map(target => ({ from: path, target, depth: 1 }))
  while (queue.length > 0) {
    const next = queue.shift()
    if (!next) break
    const repoPath = importRepoPath(next.from, next.target)
    if (!repoPath || seen.has(repoPath) || next.depth > MAX_IMPORT_DEPTH) continue
    seen.add(repoPath)
    if (seen.size > MAX_IMPORTED_FILES + 1) break
    const content = await baseTextFile(git, baseSha, repoPath)
    if (content === undefined || bytes + content.length > MAX_IMPORTED_BYTES) continue
    bytes += content.length
    const imported = neutraliseImports(content)
    sections.push(
      `Contents of ${repoPath} (imported above as \`@${next.target}\`; read from the pull request's base branch):\n\n${imported.text.trimEnd()}`
    )
    for (const target of imported.targets)
      queue.push({ from: repoPath, target, depth: next.depth + 1 })
  }
  return [first.text.trimEnd(), ...sections].join('\n\n---\n\n') + '\n'
}

/** A regular file's text at `path` in the base commit; undefined for links, binaries, absence. */
async function baseTextFile(git: Git, sha: string, path: string): Promise<string | undefined> {
  const listed = await git.tryRun(['ls-tree', '-z', '--full-tree', sha, '--', path])
  const record = listed.stdout.toString('utf8').split('\0')[0] ?? ''
  const tab = record.indexOf('\t')
  if (listed.exitCode !== 0 || tab < 0 || record.slice(tab + 1) !== path) return undefined
  const [mode = '', type = '', oid = ''] = record.slice(0, tab).split(' ')
  if (type !== 'blob' || (mode !== '100644' && mode !== '100755')) return undefined
  const content = (await git.run(['cat-file', 'blob', oid])).stdout
  if (content.length > MAX_IMPORTED_BYTES || content.subarray(0, 8000).includes(0)) return undefined
  return content.toString('utf8')
}

// --- git ------------------------------------------------------------------------------------

async function ensureCommit(git: Git, sha: string, token: string | undefined): Promise<void> {
  const has = async (): Promise<boolean> =>
    (await git.tryRun(['cat-file', '-e', `${sha}^{commit}`])).exitCode === 0
  if (await has()) return
  // actions/checkout fetches one commit; the base is usually not among them.
  const env: Record<string, string> = {}
  if (token) {
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64')
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraheader',
      GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`
    })
  }
  const fetched = await git.tryRun(
    ['fetch', '--no-tags', '--no-recurse-submodules', '--depth=1', 'origin', sha],
    { env }
  )
  if (fetched.exitCode === 0 && (await has())) return
  const why = fetched.stderr.toString('utf8').trim().split('\n').slice(-1)[0] ?? ''
  throw new ConfigurationError(
    `The pull request's base commit ${sha} is not in the checkout and could not be fetched from ` +
      `origin (${why || `exit ${fetched.exitCode}`}), so the agent's configuration cannot be ` +
      `taken from the base branch`,
    'Check out with fetch-depth: 0, or give the action a github-token that can read the repository'
  )
}

interface Blob {
  mode: string
  oid: string
}

async function listConfigBlobs(git: Git, treeish: string): Promise<Map<string, Blob>> {
  const blobs = new Map<string, Blob>()
  const listed = await git.tryRun(['ls-tree', '-r', '-z', '--full-tree', treeish])
  if (listed.exitCode !== 0) {
    if (treeish === 'HEAD') return blobs // an unborn branch has no files
    throw new Error(`git ls-tree ${treeish} failed: ${listed.stderr.toString('utf8').trim()}`)
  }
  for (const record of listed.stdout.toString('utf8').split('\0')) {
    const tab = record.indexOf('\t')
    if (tab < 0) continue
    const [mode = '', type = '', oid = ''] = record.slice(0, tab).split(' ')
    const path = record.slice(tab + 1)
    // Submodules (type commit) cannot be swapped; a config path that is one stays as it is.
    if (type === 'blob' && isSafeRelative(path) && isAgentConfigPath(path))
      blobs.set(path, { mode, oid })
  }
  return blobs
}

async function blobState(git: Git, blob: Blob): Promise<EntryState> {
  const content = (await git.run(['cat-file', 'blob', blob.oid])).stdout
  if (blob.mode === '120000') return { kind: 'symlink', target: content.toString('utf8') }
  return { kind: 'file', executable: blob.mode === '100755', base64: content.toString('base64') }
}

/** Untracked config files, including ignored ones at the root (settings.local.json and such). */
async function untrackedConfigPaths(git: Git, workspace: string): Promise<string[]> {
  const listed = await git.run(['ls-files', '-z', '--others', '--exclude-standard'])
  const paths = listed.stdout
    .toString('utf8')
    .split('\0')
    .filter(path => path !== '' && isSafeRelative(path) && isAgentConfigPath(path))
  for (const name of ['CLAUDE.md', 'CLAUDE.local.md', '.mcp.json']) {
    if ((await readState(workspace, name)).kind !== 'absent') paths.push(name)
  }
  paths.push(...(await walkLeaves(workspace, '.claude')))
  return paths
}

/** Files and links under a directory of the workspace, never following a link. */
async function walkLeaves(workspace: string, path: string): Promise<string[]> {
  const stats = await lstat(join(workspace, path)).catch(() => undefined)
  if (!stats) return []
  if (!stats.isDirectory()) return [path]
  const leaves: string[] = []
  for (const name of await readdir(join(workspace, path))) {
    leaves.push(...(await walkLeaves(workspace, `${path}/${name}`)))
  }
  return leaves
}

// --- the working tree -----------------------------------------------------------------------

function isSafeRelative(path: string): boolean {
  return (
    path !== '' &&
    !path.startsWith('/') &&
    path.split('/').every(part => part !== '' && part !== '.' && part !== '..')
  )
}

/** Whether every parent of `path` is a real directory (not a link, not a file). */
async function parentsAreDirectories(workspace: string, path: string): Promise<boolean> {
  const parts = path.split('/')
  for (let i = 1; i < parts.length; i++) {
    const stats = await lstat(join(workspace, ...parts.slice(0, i))).catch(() => undefined)
    if (!stats?.isDirectory()) return false
  }
  return true
}

async function readState(workspace: string, path: string): Promise<EntryState> {
  if (!(await parentsAreDirectories(workspace, path))) return { kind: 'absent' }
  const full = join(workspace, path)
  const stats = await lstat(full).catch(() => undefined)
  if (!stats) return { kind: 'absent' }
  if (stats.isSymbolicLink()) return { kind: 'symlink', target: await readlink(full) }
  if (!stats.isFile()) return { kind: 'other' }
  return {
    kind: 'file',
    executable: (stats.mode & 0o100) !== 0,
    base64: (await readFile(full)).toString('base64')
  }
}

function sameState(a: EntryState, b: EntryState): boolean {
  if (a.kind === 'file' && b.kind === 'file')
    return a.executable === b.executable && a.base64 === b.base64
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target
  return a.kind === b.kind && a.kind !== 'other'
}

/** Removes a file, link or directory at `path` without following links; false if unsafe. */
async function removeEntry(workspace: string, path: string): Promise<boolean> {
  if (!(await parentsAreDirectories(workspace, path))) return false
  await rm(join(workspace, path), { recursive: true, force: true })
  return true
}

/**
 * Creates the missing parents of `path`. A parent that is a link or a file makes it fail — unless
 * it is itself a config path (the agent replaced `.claude` with a link, say) and `discard` is
 * given, in which case it is removed and reported.
 */
async function prepareParents(
  workspace: string,
  path: string,
  createdDirs: string[],
  discard?: (path: string) => void
): Promise<boolean> {
  const parts = path.split('/')
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/')
    const full = join(workspace, dir)
    const stats = await lstat(full).catch(() => undefined)
    if (stats?.isDirectory()) continue
    if (stats) {
      if (!discard || !isAgentConfigPath(dir)) return false
      await rm(full, { force: true })
      discard(dir)
    }
    try {
      await mkdir(full)
    } catch (error: unknown) {
      throw new Error(`cannot create ${dir} in the workspace: ${errorMessage(error)}`)
    }
    createdDirs.push(dir)
  }
  return true
}

async function writeEntry(workspace: string, path: string, state: EntryState): Promise<void> {
  const full = join(workspace, path)
  if (state.kind === 'symlink') await symlink(state.target, full)
  if (state.kind === 'file')
    // 'wx' (O_CREAT|O_EXCL) refuses to write through anything already there, a link included.
    await writeFile(full, Buffer.from(state.base64, 'base64'), {
      flag: 'wx',
      mode: state.executable ? 0o755 : 0o644
    })
}

function deepestFirst(a: { path: string }, b: { path: string }): number {
  return b.path.split('/').length - a.path.split('/').length || b.path.localeCompare(a.path)
}
