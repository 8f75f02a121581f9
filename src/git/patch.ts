import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { GITLINK_MODE, SYMLINK_MODE, parseRawNumstat, type ChangedFile } from './diff-parse.js'
import { createGit, type Git } from './git.js'

export type { ChangeStatus, ChangedFile, GitMode } from './diff-parse.js'

/**
 * Turns what the agent left in the working tree into a patch, and a patch back into objects.
 *
 * The agent could not write `.git` (it is mounted read-only into the sandbox), so HEAD, the index
 * and the repository's config are trustworthy; the working tree is not. Every step works in a
 * throw-away index so the user's real index is never touched, and the diff is taken between two
 * trees with plumbing (`diff-tree`), which ignores porcelain settings such as diff.noprefix or
 * color.ui and runs no external diff or textconv.
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

export async function createPatch(workspace: string, patchPath: string): Promise<PatchResult> {
  const git = await openRepository(workspace)
  const baseCommit = await resolveCommit(git, 'HEAD', { optional: true })
  const { tree, embeddedRepositories } = await withTemporaryIndex(async env => {
    await seedIndex(git, env, baseCommit)
    await carrySkipWorktree(git, env)
    const embedded = await findEmbeddedRepositories(git, env)
    // Reads the working tree into the throw-away index: tracked changes, deletions and untracked
    // files that are not ignored. Symlinks are stored as links (lstat), never followed.
    const excluded = embedded.map(directory => `:(exclude,literal)${directory}`)
    await git.run(['add', '--all', '--', '.', ...excluded], { env })
    return { tree: await git.text(['write-tree'], { env }), embeddedRepositories: embedded }
  })

  const base = baseCommit ?? (await emptyTree(git))
  const absolutePatchPath = path.resolve(patchPath)
  await mkdir(path.dirname(absolutePatchPath), { recursive: true })
  await writeFile(absolutePatchPath, '')
  await git.run([
    'diff-tree',
    ...DIFF_OPTIONS,
    ...PATCH_OPTIONS,
    `--output=${absolutePatchPath}`,
    base,
    tree,
    '--'
  ])

  const summary = await describeChange(git, base, tree, baseCommit)
  return {
    ...summary,
    patchPath: absolutePatchPath,
    hasChanges: summary.files.length > 0,
    embeddedRepositories
  }
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
  const tree = await withTemporaryIndex(async env => {
    await seedIndex(git, env, baseCommit)
    await git.run(
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
    return git.text(['write-tree'], { env })
  })

  const base = baseCommit ?? (await emptyTree(git))
  const summary = await describeChange(git, base, tree, baseCommit)
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

/** NUL-separated paths as latin1 strings: one char per byte, so any file name survives intact. */
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
