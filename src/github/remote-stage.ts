import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { deflateSync } from 'node:zlib'
import { ConfigurationError } from '../errors.js'
import { createGit } from '../git/git.js'
import { stagePatch, type StagedPatch } from '../git/patch.js'
import { splitPatch, unquote } from '../report/comment.js'
import { attempt, type GitHubClient } from './client.js'
import { commitTree, listTree, type RepoId } from './git-data.js'

/**
 * Stages a patch without a checkout: the publish job of the reusable workflow holds the write
 * token and, on purpose, checks nothing out. The files the patch touches are fetched from GitHub
 * (by the blob ids the patch itself records, or from the base commit's tree), written into a
 * throw-away repository as the only content of its HEAD, and the patch is applied there with
 * the same `git apply` as a local publish. Untouched files are never needed: the commit is built
 * on the base tree through the API.
 */

interface Preimage {
  path: string
  sha?: string
  mode?: string
}

const ZERO = /^0+$/

/** The pre-change side of every file a patch touches, read from its headers. */
export function patchPreimages(patch: string): Preimage[] {
  const out = new Map<string, Preimage>()
  for (const section of splitPatch(patch)) {
    const headerEnd = section.text.search(/^(@@ |GIT binary patch)/m)
    const header = (headerEnd < 0 ? section.text : section.text.slice(0, headerEnd)).split('\n')
    let oldPath: string | undefined
    let oldSha: string | undefined
    let oldMode: string | undefined
    let isNew = false
    for (const line of header) {
      if (line.startsWith('new file mode ')) isNew = true
      else if (line.startsWith('old mode ')) oldMode = line.slice(9).trim()
      else if (line.startsWith('deleted file mode ')) oldMode = line.slice(18).trim()
      else if (line.startsWith('rename from ')) oldPath = unquote(line.slice(12))
      else if (line.startsWith('copy from ')) oldPath = unquote(line.slice(10))
      else if (line.startsWith('--- ') && oldPath === undefined) {
        const p = unquote(line.slice(4))
        if (p !== '/dev/null') oldPath = p.replace(/^a\//, '')
      } else if (line.startsWith('index ')) {
        const m = /^index ([0-9a-f]+)\.\.[0-9a-f]+(?: (\d{6}))?$/.exec(line)
        if (m && !ZERO.test(m[1] as string)) oldSha = m[1]
        if (m?.[2]) oldMode ??= m[2]
      }
    }
    if (isNew) continue
    const p = oldPath ?? section.path
    if (p === '') continue
    out.set(p, {
      path: p,
      ...(oldSha ? { sha: oldSha } : {}),
      ...(oldMode ? { mode: oldMode } : {})
    })
  }
  return [...out.values()]
}

function blobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex')
}

/** Writes a loose object, as `git hash-object -w` would, without a process per blob. */
async function writeLooseBlob(gitDir: string, sha: string, content: Buffer): Promise<void> {
  const dir = path.join(gitDir, 'objects', sha.slice(0, 2))
  await mkdir(dir, { recursive: true })
  await writeFile(
    path.join(dir, sha.slice(2)),
    deflateSync(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content]))
  )
}

async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

export interface RemoteStage {
  staged: StagedPatch
  /** The throw-away repository holding the staged objects (read blobs from here). */
  repository: string
  dispose(): Promise<void>
}

export async function stageAgainstGitHub(options: {
  client: GitHubClient
  repo: RepoId
  patchText: string
  patchPath: string
  /** The commit the change will be published onto; supplies what the patch does not record. */
  baseCommit: string
  baseLabel: string
}): Promise<RemoteStage> {
  const { client, repo } = options
  const preimages = patchPreimages(options.patchText)
  const tree =
    preimages.length > 0
      ? await listTree(client, repo, await commitTree(client, repo, options.baseCommit))
      : new Map()
  if (!tree) {
    throw new ConfigurationError(
      `The repository is too large to read ${options.baseLabel} through the API, and there is no checkout to apply the patch to`,
      'Check out the repository at the commit the agent worked on before publishing (working-directory)'
    )
  }
  const missing: string[] = []
  const differing: string[] = []
  for (const pre of preimages) {
    const entry = tree.get(pre.path)
    if (!entry) missing.push(pre.path)
    else if (pre.sha && entry.sha !== pre.sha) differing.push(pre.path)
    pre.sha ??= entry?.sha
    pre.mode ??= entry?.mode
  }
  if (missing.length > 0 || differing.length > 0) {
    const list = [...missing, ...differing]
      .slice(0, 20)
      .map(p => JSON.stringify(p))
      .join(', ')
    throw new ConfigurationError(
      `The patch was made against other versions of ${missing.length + differing.length} file(s) than ${options.baseLabel} has: ${list}; nothing was published`,
      'Rerun the workflow on the current head'
    )
  }

  const directory = await mkdtemp(path.join(tmpdir(), 'claude-sandbox-publish-'))
  const dispose = (): Promise<void> => rm(directory, { recursive: true, force: true })
  try {
    const git = createGit(directory)
    await git.run(['init', '-q'])
    const gitDir = path.join(directory, '.git')
    // A submodule entry names a commit of another repository: nothing to fetch for it.
    const shas = [...new Set(preimages.filter(p => p.mode !== '160000').map(p => p.sha as string))]
    await mapLimit(shas, 8, async sha => {
      const blob = await attempt(
        { what: `read blob ${sha.slice(0, 12)}`, permissions: ['contents: read'] },
        () => client.rest.git.getBlob({ ...repo, file_sha: sha })
      )
      const content = Buffer.from(
        blob.data.content,
        blob.data.encoding === 'base64' ? 'base64' : 'utf8'
      )
      if (blobId(content) !== sha) throw new Error(`GitHub returned other content for blob ${sha}`)
      await writeLooseBlob(gitDir, sha, content)
    })
    const index = { GIT_INDEX_FILE: path.join(directory, 'base-index') }
    const info = preimages.map(p => `${p.mode} ${p.sha}\t${p.path}\0`).join('')
    await git.run(['update-index', '-z', '--index-info'], {
      env: index,
      input: Buffer.from(info, 'utf8')
    })
    const baseTree = await git.text(['write-tree'], { env: index })
    const identity = {
      GIT_AUTHOR_NAME: 'base',
      GIT_AUTHOR_EMAIL: 'base@invalid',
      GIT_COMMITTER_NAME: 'base',
      GIT_COMMITTER_EMAIL: 'base@invalid'
    }
    const commit = await git.text(['commit-tree', baseTree, '-m', 'files the patch touches'], {
      env: identity
    })
    await git.run(['update-ref', 'HEAD', commit])
    const staged = await stagePatch(directory, options.patchPath)
    return { staged, repository: directory, dispose }
  } catch (error: unknown) {
    await dispose()
    throw error
  }
}
