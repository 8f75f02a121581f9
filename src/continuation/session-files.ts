/**
 * The session's files on the host: what `claude --resume` needs, which is the transcript the CLI
 * keeps under `~/.claude/projects/<project>/<session id>.jsonl` (and, when it wrote one, the
 * directory of the same name beside it). The container writes them into a run-private host
 * directory mounted at `~/.claude/projects`; the agent controls what is there, so every path is
 * read with lstat and O_NOFOLLOW (a symlink planted by the agent would otherwise make the host
 * read its own files into the cache entry), only regular files and directories are taken, and
 * the total size is bounded.
 */
import { constants } from 'node:fs'
import { chown, lstat, mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'

/** The most a saved session may weigh; a larger one is not saved (the next run starts afresh). */
export const MAX_SESSION_BYTES = 64 * 1024 * 1024
/** Bounds on the walk of the session's own directory. */
const MAX_FILES = 2_000
const MAX_DEPTH = 6

export class SessionFilesError extends Error {}

export interface SessionFiles {
  /** The CLI's project directory name (`-workspace`). */
  projectDir: string
  /** Paths relative to the project directory, regular files only. */
  files: string[]
  bytes: number
}

async function isPlainDirectory(dir: string): Promise<boolean> {
  const stat = await lstat(dir).catch(() => undefined)
  return stat?.isDirectory() === true
}

/** Finds the session's transcript among the project directories (never through a symlink). */
export async function findSessionFiles(
  projectsDir: string,
  sessionId: string
): Promise<SessionFiles | undefined> {
  if (!(await isPlainDirectory(projectsDir))) return undefined
  for (const entry of await readdir(projectsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const transcript = await lstat(path.join(projectsDir, entry.name, `${sessionId}.jsonl`)).catch(
      () => undefined
    )
    if (!transcript?.isFile()) continue
    const files = [`${sessionId}.jsonl`]
    let bytes = transcript.size
    const own = path.join(projectsDir, entry.name, sessionId)
    if (await isPlainDirectory(own)) {
      const walked = await walk(own, sessionId, 0)
      files.push(...walked.files)
      bytes += walked.bytes
    }
    return { projectDir: entry.name, files, bytes }
  }
  return undefined
}

async function walk(
  dir: string,
  relative: string,
  depth: number
): Promise<{ files: string[]; bytes: number }> {
  const result = { files: [] as string[], bytes: 0 }
  if (depth > MAX_DEPTH) throw new SessionFilesError(`the session's directory nests too deeply`)
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    const rel = path.join(relative, entry.name)
    // Dirent types come from lstat: a symlink is neither a file nor a directory here.
    if (entry.isDirectory()) {
      const inner = await walk(full, rel, depth + 1)
      result.files.push(...inner.files)
      result.bytes += inner.bytes
    } else if (entry.isFile()) {
      result.files.push(rel)
      result.bytes += (await lstat(full)).size
    }
    if (result.files.length > MAX_FILES) {
      throw new SessionFilesError(`the session holds more than ${MAX_FILES} files`)
    }
  }
  return result
}

/** Reads a regular file without following a symlink in its last component. */
async function readNoFollow(file: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) throw new SessionFilesError(`${path.basename(file)} is not a regular file`)
    if (stat.size > maxBytes) throw new SessionFilesError('the session is too large to keep')
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}

/**
 * Copies the session's files into `into/<projectDir>/…`. Directories on the way were checked
 * with lstat by findSessionFiles; each file is opened with O_NOFOLLOW. Returns the copies.
 */
export async function copySessionFiles(
  projectsDir: string,
  session: SessionFiles,
  into: string,
  maxBytes = MAX_SESSION_BYTES
): Promise<string[]> {
  if (session.bytes > maxBytes) {
    throw new SessionFilesError(
      `the session's transcript is ${Math.ceil(session.bytes / 1024 / 1024)} MiB, over the ${Math.round(maxBytes / 1024 / 1024)} MiB kept`
    )
  }
  let total = 0
  const copies: string[] = []
  for (const file of session.files) {
    const content = await readNoFollow(
      path.join(projectsDir, session.projectDir, file),
      maxBytes - total
    )
    total += content.length
    const target = path.join(into, session.projectDir, file)
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 })
    await writeFile(target, content, { mode: 0o600, flag: 'wx' })
    copies.push(target)
  }
  return copies
}

/**
 * Checks a restored tree: only directories and regular files, within the bounds. Returns its
 * regular files (relative paths) or throws SessionFilesError naming what is wrong.
 */
export async function plainTree(root: string): Promise<string[]> {
  if (!(await isPlainDirectory(root))) throw new SessionFilesError('the entry holds no transcript')
  const files: string[] = []
  let bytes = 0
  const visit = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH + 2) throw new SessionFilesError('the entry nests too deeply')
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      const relative = path.join(rel, entry.name)
      if (entry.isDirectory()) await visit(full, relative, depth + 1)
      else if (entry.isFile()) {
        files.push(relative)
        bytes += (await lstat(full)).size
      } else throw new SessionFilesError(`the entry holds ${relative}, which is not a regular file`)
      if (files.length > MAX_FILES || bytes > MAX_SESSION_BYTES) {
        throw new SessionFilesError('the entry is larger than a saved session may be')
      }
    }
  }
  await visit(root, '', 0)
  return files
}

/**
 * Puts a checked tree (`from`, holding `<projectDir>/…`) into the directory mounted at
 * `~/.claude/projects`, owned by the agent's user.
 */
export async function installSessionFiles(
  from: string,
  files: string[],
  projectsDir: string,
  owner: { uid: number; gid: number } | undefined
): Promise<void> {
  for (const file of files) {
    const target = path.join(projectsDir, file)
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 })
    await writeFile(target, await readNoFollow(path.join(from, file), MAX_SESSION_BYTES), {
      mode: 0o600
    })
  }
  if (owner) await chownTree(projectsDir, owner)
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid)
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) await chownTree(full, owner)
    else if (entry.isFile()) await chown(full, owner.uid, owner.gid)
  }
}

/** Reads a small JSON file of a restored entry (session.json), refusing a symlink. */
export async function readJsonNoFollow(file: string): Promise<unknown> {
  const stat = await lstat(file).catch(() => undefined)
  if (!stat?.isFile()) throw new SessionFilesError(`${path.basename(file)} is missing`)
  if (stat.size > 64 * 1024) throw new SessionFilesError(`${path.basename(file)} is too large`)
  return JSON.parse(await readFile(file, 'utf8')) as unknown
}
