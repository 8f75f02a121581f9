import { lstat, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import {
  GITLINK_MODE,
  SYMLINK_MODE,
  parseRawNumstat,
  splitNulRaw,
  type ChangedFile
} from './diff-parse.js'
import { createGit, type ContentView, type Git } from './git.js'
import { formatLeftOut, type LeftOutFile } from './patch-preamble.js'
import { untouchedSince, type UntrackedBaseline } from './untracked-baseline.js'
import { DEFAULT_MAX_FILE_BYTES } from './path-policy.js'

export type { ChangeStatus, ChangedFile, GitMode } from './diff-parse.js'
export type { LeftOutFile } from './patch-preamble.js'

/**
 * Turns what the agent left in the working tree into a patch, and a patch back into objects.
 *
 * The agent could not write `.git` (it is mounted read-only into the sandbox), so HEAD, the index
 * and the repository's config are trustworthy; the working tree is not. Every step works in a
 * throw-away index so the user's real index is never touched, and the diff is taken between two
 * trees with plumbing (`diff-tree`), which ignores porcelain settings such as diff.noprefix or
 * color.ui and runs no external diff or textconv.
 *
 * Every diff is computed from content: git runs it from an empty stand-in work tree (see
 * ContentView), so a `.gitattributes` the agent wrote cannot mark a text file binary or hide a
 * line from the reviewer. Files over the size limit are found by their size on disk and left out
 * before git reads anything, so a multi-gigabyte build output costs a stat, not a copy.
 */

export interface ChangeSummary {
  files: ChangedFile[]
  insertions: number
  deletions: number
  /** Commit the change applies to; undefined when the repository has no commit yet. */
  baseCommit?: string
  /** Tree id of the base plus the change; its objects are in the repository's object store. */
  tree: string
}

export interface PatchResult extends ChangeSummary {
  patchPath: string
  hasChanges: boolean
  /**
   * New directories holding their own `.git` (a scaffolding tool's `git init`, say). Git can
   * record them only as submodules pointing at commits nobody else has, so they are left out of
   * the patch; the caller should warn that their content was not collected.
   */
  embeddedRepositories: string[]
  /**
   * Files over `maxFileBytes` left out of the patch (never read), with their sizes on disk. The
   * patch lists them in its preamble, so whoever renders it later can say so too.
   */
  leftOut: LeftOutFile[]
  /** How many untracked files from before the run were left out, untouched by the agent. */
  preexistingUntracked: number
}

export interface CreatePatchOptions {
  /** Files larger than this are left out of the patch; default DEFAULT_MAX_FILE_BYTES. */
  maxFileBytes?: number
  /**
   * Untracked files from before the agent ran (snapshotUntracked): those still untouched are
   * not the agent's change and stay out of the patch.
   */
  untrackedBefore?: UntrackedBaseline
  /**
   * Paths never collected, whatever the agent did to them (the credential files the agent saw
   * empty; src/credentials/), relative to the working tree.
   */
  exclude?: string[]
}

export interface StagedPatch extends ChangeSummary {
  /** The new bytes of a changed path (a symlink's target for a symlink). */
  readBlob(filePath: string): Promise<Buffer>
}

export interface StagePatchOptions {
  /** Commit the patch was made against; defaults to HEAD. */
  base?: string
}

/** Options that make every diff mechanical whatever the repository's config says. */
const DIFF_OPTIONS = [
  '-r',
  '-M',
  '--no-ext-diff',
  '--no-textconv',
  '--no-color',
  '--ignore-submodules=none',
  '--no-relative'
]

/** A `git apply --binary`-able patch with full object ids, so binary hunks and renames survive. */
const PATCH_OPTIONS = ['--binary', '--full-index', '--src-prefix=a/', '--dst-prefix=b/', '-p']

export async function createPatch(
  workspace: string,
  patchPath: string,
  options: CreatePatchOptions = {}
): Promise<PatchResult> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const git = await openRepository(workspace)
  const baseCommit = await resolveCommit(git, 'HEAD', { optional: true })
  const absolutePatchPath = path.resolve(patchPath)
  return withContentView(git, async content => {
    const { tree, embeddedRepositories, leftOut, preexistingUntracked } = await withTemporaryIndex(
      async env => {
        await seedIndex(git, env, baseCommit)
        await carrySkipWorktree(git, env)
        const embedded = await findEmbeddedRepositories(git, env)
        // What the job left untracked before the agent ran is not the agent's change: removed
        // after `add` by literal name (update-index, not pathspecs: a long list costs no
        // pattern matching), and not reported as left out for its size either.
        const preexisting = options.untrackedBefore
          ? await untouchedSince(options.untrackedBefore)
          : []
        const preexistingNames = new Set(preexisting.map(name => name.toString('utf8')))
        const large = await findLargeFiles(git, env, maxFileBytes)
        // Reads the working tree into the throw-away index: tracked changes, deletions and
        // untracked files that are not ignored. Symlinks are stored as links (lstat), never
        // followed. The pathspecs go through a file: there may be more than a command line holds.
        const pathspecs = [
          Buffer.from('.'),
          ...embedded.map(directory => Buffer.from(`:(exclude,literal)${directory}`)),
          ...large.skip.map(entry => Buffer.concat([Buffer.from(':(exclude,literal)'), entry])),
          ...(options.exclude ?? []).map(entry => Buffer.from(`:(exclude,literal)${entry}`))
        ]
        await git.run(['add', '--all', '--pathspec-from-file=-', '--pathspec-file-nul'], {
          env,
          input: Buffer.concat(pathspecs.flatMap(spec => [spec, Buffer.from([0])]))
        })
        if (preexisting.length > 0) {
          await git.run(['update-index', '--force-remove', '-z', '--stdin'], {
            env,
            input: Buffer.concat(preexisting.flatMap(name => [name, Buffer.from([0])]))
          })
        }
        return {
          tree: await git.text(['write-tree'], { env }),
          embeddedRepositories: embedded,
          leftOut: large.leftOut.filter(file => !preexistingNames.has(file.path)),
          preexistingUntracked: preexisting.length
        }
      }
    )

    const base = baseCommit ?? (await emptyTree(git))
    await mkdir(path.dirname(absolutePatchPath), { recursive: true })
    // git apply skips text before the first "diff --git" line, so the preamble travels with
    // the patch to the publish job and to anyone who downloads it.
    await writeFile(absolutePatchPath, formatLeftOut(leftOut, maxFileBytes))
    await content.runToFile(
      ['diff-tree', ...DIFF_OPTIONS, ...PATCH_OPTIONS, base, tree, '--'],
      absolutePatchPath
    )

    const summary = await describeChange(content, base, tree, baseCommit)
    return {
      ...summary,
      patchPath: absolutePatchPath,
      hasChanges: summary.files.length > 0,
      embeddedRepositories,
      leftOut,
      preexistingUntracked
    }
  })
}

/**
 * Applies a patch made by createPatch to a throw-away index built from `base` (HEAD by default)
 * and describes the result, without touching the working tree or the real index. The publishing
 * step uses it to commit through the GitHub API: `files[i].newSha` and `readBlob` give the bytes.
 */
export async function stagePatch(
  workspace: string,
  patchPath: string,
  options: StagePatchOptions = {}
): Promise<StagedPatch> {
  const git = await openRepository(workspace)
  const baseCommit = await resolveCommit(git, options.base ?? 'HEAD', {
    optional: options.base === undefined
  })
  const absolutePatchPath = path.resolve(patchPath)
  await stat(absolutePatchPath) // a clear ENOENT rather than git's "can't open patch"
  const summary = await withContentView(git, async content => {
    const staged = await withTemporaryIndex(async env => {
      await seedIndex(content, env, baseCommit)
      await content.run(
        [
          'apply',
          '--cached',
          '--binary',
          '--allow-empty',
          '--whitespace=nowarn',
          '-p1',
          '--',
          absolutePatchPath
        ],
        { env }
      )
      return content.text(['write-tree'], { env })
    })
    const base = baseCommit ?? (await emptyTree(git))
    return describeChange(content, base, staged, baseCommit)
  })

  const byPath = new Map(summary.files.map(file => [file.path, file]))
  return {
    ...summary,
    readBlob: async (filePath: string) => {
      const file = byPath.get(filePath)
      if (!file?.newSha || file.newMode === GITLINK_MODE) {
        throw new Error(`${JSON.stringify(filePath)} has no new content in this patch`)
      }
      return readObject(git, file.newSha)
    }
  }
}

/** The bytes of a blob in the repository's object store. */
export async function readBlob(workspace: string, sha: string): Promise<Buffer> {
  return readObject(createGit(workspace), sha)
}

async function readObject(git: Git, sha: string): Promise<Buffer> {
  return (await git.run(['cat-file', 'blob', sha])).stdout
}

/** A git wrapper rooted at the top of the working tree, so every path is repository-relative. */
async function openRepository(workspace: string): Promise<Git> {
  const probe = await createGit(workspace)
    .tryRun(['rev-parse', '--show-toplevel'])
    .catch(() => undefined)
  const toplevel = probe?.exitCode === 0 ? probe.stdout.toString('utf8').replace(/\n$/, '') : ''
  if (!toplevel) {
    throw new ConfigurationError(
      `${workspace} is not a git working tree`,
      'Check the repository out first (actions/checkout) or point working-directory at it'
    )
  }
  return createGit(toplevel)
}

async function resolveCommit(
  git: Git,
  revision: string,
  { optional }: { optional: boolean }
): Promise<string | undefined> {
  const result = await git.tryRun(['rev-parse', '--verify', '--quiet', `${revision}^{commit}`])
  if (result.exitCode === 0) return result.stdout.toString('utf8').trim()
  if (optional) return undefined // an unborn branch: the change is relative to the empty tree
  throw new Error(`${revision} is not a commit in ${git.workspace}`)
}

/** The empty tree's id in this repository's hash (sha1 or sha256). */
async function emptyTree(git: Git): Promise<string> {
  return git.text(['hash-object', '-t', 'tree', '--stdin'], { input: '' })
}

type IndexEnv = Record<string, string>

/**
 * Runs `work` with a git that sees this repository's objects from an empty work tree: no
 * `.gitattributes` of the working tree or the index applies to what it diffs or applies (only
 * the repository's own `info/attributes`, which the agent cannot write).
 */
async function withContentView<T>(git: Git, work: (content: Git) => Promise<T>): Promise<T> {
  const gitDir = await git.text(['rev-parse', '--absolute-git-dir'])
  const directory = await mkdtemp(path.join(tmpdir(), 'claude-sandbox-view-'))
  const view: ContentView = {
    gitDir,
    emptyDir: path.join(directory, 'tree'),
    noIndex: path.join(directory, 'no-index')
  }
  await mkdir(view.emptyDir)
  try {
    return await work(createGit(git.workspace, view))
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

interface LargeFiles {
  /** Paths add must not read (raw bytes, as git listed them). */
  skip: Buffer[]
  /** Of those, the ones whose content changed: new files, or tracked files that differ. */
  leftOut: LeftOutFile[]
}

/** How many lstat calls run at once: enough to hide latency, few enough to bound memory. */
const STAT_CONCURRENCY = 64

/**
 * Regular files over `maxFileBytes`, by their size on disk (lstat: a link's size is its
 * target's length, and links are never followed). Tracked ones are left alone when they did not
 * change (a committed asset), and listed when they did, so the patch keeps the base's version.
 */
async function findLargeFiles(git: Git, env: IndexEnv, maxFileBytes: number): Promise<LargeFiles> {
  // "<mode> <sha> <stage>\t<path>" for every path of the base, then the untracked ones.
  const staged = splitNulRaw((await git.run(['ls-files', '-z', '--stage'], { env })).stdout)
  const tracked = new Map<string, string>()
  const entries: Buffer[] = []
  for (const record of staged) {
    const tab = record.indexOf(0x09)
    const entry = record.subarray(tab + 1)
    tracked.set(latin1(entry), record.subarray(0, tab).toString('latin1').split(' ')[1] ?? '')
    entries.push(entry)
  }
  const others = await git.run(['ls-files', '-z', '--others', '--exclude-standard'], { env })
  for (const entry of splitNulRaw(others.stdout)) if (entry.at(-1) !== 0x2f) entries.push(entry) // not "dir/"

  const large: Array<{ entry: Buffer; size: number }> = []
  const root = Buffer.from(`${git.workspace}/`)
  for (let start = 0; start < entries.length; start += STAT_CONCURRENCY) {
    const batch = entries.slice(start, start + STAT_CONCURRENCY)
    const stats = await Promise.all(
      batch.map(entry => lstat(Buffer.concat([root, entry])).catch(() => undefined))
    )
    stats.forEach((info, index) => {
      const entry = batch[index]
      if (entry && info?.isFile() && info.size > maxFileBytes)
        large.push({ entry, size: info.size })
    })
  }
  if (large.length === 0) return { skip: [], leftOut: [] }

  const unchanged = await unchangedTrackedFiles(
    git,
    large.map(l => l.entry).filter(entry => tracked.has(latin1(entry))),
    tracked
  )
  return {
    skip: large.map(l => l.entry),
    leftOut: large
      .filter(l => !unchanged.has(latin1(l.entry)))
      .map(l => ({ path: l.entry.toString('utf8'), size: l.size }))
  }
}

/**
 * Which of these tracked paths still hold the base's content. `hash-object` streams each file
 * through git's hash (and the repository's clean filter, so an LFS file compares as its
 * pointer); nothing is written and nothing is read into this process.
 */
async function unchangedTrackedFiles(
  git: Git,
  entries: Buffer[],
  baseShas: Map<string, string>
): Promise<Set<string>> {
  // --stdin-paths reads one name a line: a name holding a newline is counted as changed.
  const hashable = entries.filter(entry => !entry.includes(0x0a))
  if (hashable.length === 0) return new Set()
  const result = await git.run(['hash-object', '--stdin-paths'], {
    input: Buffer.concat(hashable.flatMap(entry => [entry, Buffer.from('\n')]))
  })
  const shas = result.stdout.toString('latin1').split('\n')
  return new Set(hashable.map(latin1).filter((name, index) => shas[index] === baseShas.get(name)))
}

function latin1(entry: Buffer): string {
  return entry.toString('latin1')
}

async function withTemporaryIndex<T>(work: (env: IndexEnv) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(path.join(tmpdir(), 'claude-sandbox-index-'))
  try {
    return await work({ GIT_INDEX_FILE: path.join(directory, 'index') })
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

async function seedIndex(git: Git, env: IndexEnv, baseCommit: string | undefined): Promise<void> {
  await git.run(baseCommit ? ['read-tree', baseCommit] : ['read-tree', '--empty'], { env })
}

/**
 * In a sparse checkout the files outside the cone are absent from the working tree on purpose;
 * without their skip-worktree bits `add --all` would record them all as deleted. The bits come
 * from the real index, which the agent could not write.
 */
async function carrySkipWorktree(git: Git, env: IndexEnv): Promise<void> {
  const tagged = splitNulBytes((await git.run(['ls-files', '-z', '-t'])).stdout)
  const skipped = tagged.filter(entry => entry.startsWith('S ')).map(entry => entry.slice(2))
  if (skipped.length === 0) return
  const inBase = new Set(splitNulBytes((await git.run(['ls-files', '-z'], { env })).stdout))
  const present = skipped.filter(entry => inBase.has(entry))
  if (present.length === 0) return
  await git.run(['update-index', '-z', '--skip-worktree', '--stdin'], {
    env,
    input: Buffer.from(present.map(entry => `${entry}\0`).join(''), 'latin1')
  })
}

/**
 * Untracked directories with their own `.git`: `ls-files --others` lists them as `dir/` rather
 * than descending. `add` would fail on one without a commit, or record a dangling gitlink.
 */
async function findEmbeddedRepositories(git: Git, env: IndexEnv): Promise<string[]> {
  const others = await git.run(['ls-files', '-z', '--others', '--exclude-standard'], { env })
  return others.stdout
    .toString('utf8')
    .split('\0')
    .filter(entry => entry.endsWith('/'))
    .map(entry => entry.slice(0, -1))
}

function splitNulBytes(output: Buffer): string[] {
  return output
    .toString('latin1')
    .split('\0')
    .filter(entry => entry !== '')
}

async function describeChange(
  git: Git,
  base: string,
  tree: string,
  baseCommit: string | undefined
): Promise<ChangeSummary> {
  const raw = await git.run([
    'diff-tree',
    ...DIFF_OPTIONS,
    '-z',
    '--no-abbrev',
    '--raw',
    '--numstat',
    base,
    tree,
    '--'
  ])
  const changes = parseRawNumstat(raw.stdout)
  const sizes = await blobSizes(
    git,
    changes.flatMap(change =>
      change.newSha && change.newMode !== GITLINK_MODE ? [change.newSha] : []
    )
  )

  const files: ChangedFile[] = []
  for (const change of changes) {
    const file: ChangedFile = { ...change }
    if (change.newSha && change.newMode !== GITLINK_MODE) {
      const size = sizes.get(change.newSha)
      if (size === undefined) throw new Error(`object ${change.newSha} is missing`)
      file.size = size
    }
    if (change.newSha && change.newMode === SYMLINK_MODE) {
      file.symlinkTarget = (await readObject(git, change.newSha)).toString('utf8')
    }
    files.push(file)
  }

  const summary: ChangeSummary = {
    files,
    insertions: files.reduce((sum, file) => sum + file.insertions, 0),
    deletions: files.reduce((sum, file) => sum + file.deletions, 0),
    tree
  }
  if (baseCommit !== undefined) summary.baseCommit = baseCommit
  return summary
}

/** Sizes of blobs by id, in one `cat-file --batch-check` call. */
async function blobSizes(git: Git, shas: string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  const unique = [...new Set(shas)]
  if (unique.length === 0) return sizes
  const result = await git.run(
    ['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'],
    { input: unique.map(sha => `${sha}\n`).join('') }
  )
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const [sha, type, size] = line.split(' ')
    if (sha && type === 'blob' && size !== undefined) sizes.set(sha, Number(size))
  }
  return sizes
}
