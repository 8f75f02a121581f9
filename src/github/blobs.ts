import { createGit } from '../git/git.js'

/**
 * Reads many blobs from a repository's object store with one `git cat-file --batch` per call:
 * publishing 2,000 files must not start 2,000 git processes.
 */
export async function readBlobs(workspace: string, shas: string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  const unique = [...new Set(shas)]
  if (unique.length === 0) return out
  const result = await createGit(workspace).run(['cat-file', '--batch'], {
    input: unique.map(sha => `${sha}\n`).join('')
  })
  const data = result.stdout
  let offset = 0
  while (offset < data.length) {
    const headerEnd = data.indexOf(0x0a, offset)
    if (headerEnd < 0) break
    const header = data.subarray(offset, headerEnd).toString('utf8')
    const [sha, type, size] = header.split(' ')
    if (type === 'missing' || size === undefined) {
      throw new Error(`object ${sha ?? header} is missing from ${workspace}`)
    }
    const length = Number(size)
    // Copy out of the combined buffer so a kept blob does not pin the whole batch in memory.
    out.set(sha as string, Buffer.from(data.subarray(headerEnd + 1, headerEnd + 1 + length)))
    offset = headerEnd + 1 + length + 1
  }
  return out
}
