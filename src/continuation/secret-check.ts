/**
 * Whether files about to leave the run hold one of the run's known secret values (the API key,
 * the OAuth token, the GitHub token, the runner's own tokens), as written or in the base64 forms
 * git and HTTP headers use. The gateway's key never enters the container, so a saved session
 * should never hold it; this checks anyway, because a cache entry outlives the run.
 *
 * One function, so that it can later be pointed at the shared secret scanner.
 */
import { readFile } from 'node:fs/promises'

/** Secrets shorter than this are not searched for (they would match by chance). */
const MIN_SECRET_LENGTH = 8

/** The run's known secret values: the credentials, and the runner's tokens from its environment. */
export function knownSecretValues(
  credentials: Array<string | undefined>,
  env: NodeJS.ProcessEnv = process.env
): string[] {
  const fromEnv = [
    env.GITHUB_TOKEN,
    env.ACTIONS_RUNTIME_TOKEN,
    env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
    env.ANTHROPIC_API_KEY
  ]
  const values = [...credentials, ...fromEnv]
    .map(value => value?.trim() ?? '')
    .filter(value => value.length >= MIN_SECRET_LENGTH)
  return [...new Set(values)]
}

/** The byte strings that give a secret away: itself, its base64, git's `x-access-token:` header. */
function needles(secret: string): Buffer[] {
  return [
    Buffer.from(secret),
    Buffer.from(Buffer.from(secret).toString('base64').replace(/=+$/, '')),
    Buffer.from(Buffer.from(`x-access-token:${secret}`).toString('base64').replace(/=+$/, ''))
  ]
}

/**
 * The files (of `files`) that hold a known secret. Files are read whole: the caller has bounded
 * their total size. Which secret is never said, so the answer can be logged.
 */
export async function filesWithKnownSecrets(files: string[], secrets: string[]): Promise<string[]> {
  const patterns = secrets.flatMap(needles)
  if (patterns.length === 0) return []
  const found: string[] = []
  for (const file of files) {
    const content = await readFile(file)
    if (patterns.some(pattern => content.includes(pattern))) found.push(file)
  }
  return found
}
