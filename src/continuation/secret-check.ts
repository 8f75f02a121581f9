/**
 * Whether files about to leave the run hold one of the run's known secret values (the API key or
 * token, the GitHub token, what the credential shield found in the working tree, the runner's own
 * tokens), as written or in any encoded form the secret scan knows (src/secrets/). The gateway's
 * key never enters the container, so a saved session should never hold it; this checks anyway,
 * because a cache entry outlives the run.
 */
import { readFile } from 'node:fs/promises'
import { findKnownSecrets, type KnownSecrets } from '../secrets/scan.js'

/**
 * The files (of `files`) that hold a known secret. Files are read whole: the caller has bounded
 * their total size. Which secret is never said, so the answer can be logged.
 */
export async function filesWithKnownSecrets(
  files: string[],
  known: KnownSecrets
): Promise<string[]> {
  if (known.values.length === 0) return []
  const found: string[] = []
  for (const file of files) {
    const content = await readFile(file, 'latin1')
    if (findKnownSecrets(content, known).length > 0) found.push(file)
  }
  return found
}
