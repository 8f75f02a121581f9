/**
 * The released agent image, as the release recorded it in `docker/prebuilt.json` (pure apart
 * from reading and writing that file). The release workflow builds the bundled Dockerfile, pushes
 * it, and commits this record into the released tree; the action pulls the digest for its
 * platform when the inputs ask for exactly the bundled image (see prepare.ts).
 *
 * `sourceDigest` ties the record to the tree: it is a digest of every file in `docker/` that
 * makes the image (all but the record itself). A record whose digest does not match the files
 * beside it was made from another Dockerfile and is not used.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export const PREBUILT_RECORD_FILE = 'prebuilt.json'

export interface PrebuiltRecord {
  /** Where the image lives, without tag or digest: `ghcr.io/<owner>/<repo>/agent`. */
  repository: string
  /** The release's version (`1.2.3`), for messages. */
  version: string
  /** imageSourceDigest() of the docker/ directory the image was built from. */
  sourceDigest: string
  /** Platform (`linux/amd64`) to the digest of that platform's image manifest. */
  platforms: Record<string, string>
}

const DIGEST = /^sha256:[0-9a-f]{64}$/

export function prebuiltRecordPath(dockerDir: string): string {
  return path.join(dockerDir, PREBUILT_RECORD_FILE)
}

/**
 * The record in `dockerDir`, or undefined when there is none yet (an unreleased tree records no
 * platforms). Throws on a malformed record: that is a broken release, not a user's mistake.
 */
export function readPrebuiltRecord(dockerDir: string): PrebuiltRecord | undefined {
  let text: string
  try {
    text = readFileSync(prebuiltRecordPath(dockerDir), 'utf8')
  } catch {
    return undefined
  }
  const record = parsePrebuiltRecord(text)
  return Object.keys(record.platforms).length > 0 ? record : undefined
}

export function parsePrebuiltRecord(text: string): PrebuiltRecord {
  const raw: unknown = JSON.parse(text)
  if (typeof raw !== 'object' || raw === null) throw new Error('prebuilt record: not an object')
  const value = raw as Record<string, unknown>
  const str = (key: string): string => {
    const field = value[key]
    if (typeof field !== 'string') throw new Error(`prebuilt record: ${key} must be a string`)
    return field
  }
  const platforms = value.platforms
  if (typeof platforms !== 'object' || platforms === null || Array.isArray(platforms))
    throw new Error('prebuilt record: platforms must be an object')
  const checked: Record<string, string> = {}
  for (const [platform, digest] of Object.entries(platforms)) {
    if (typeof digest !== 'string' || !DIGEST.test(digest))
      throw new Error(`prebuilt record: ${platform} has no sha256 digest`)
    checked[platform] = digest
  }
  const sourceDigest = str('sourceDigest')
  if (sourceDigest !== '' && !DIGEST.test(sourceDigest))
    throw new Error('prebuilt record: sourceDigest must be a sha256 digest')
  return {
    repository: str('repository'),
    version: str('version'),
    sourceDigest,
    platforms: checked
  }
}

export function writePrebuiltRecord(dockerDir: string, record: PrebuiltRecord): void {
  writeFileSync(prebuiltRecordPath(dockerDir), `${JSON.stringify(record, null, 2)}\n`)
}

/** A digest of the files in `dockerDir` that make the image: every regular file but the record. */
export function imageSourceDigest(dockerDir: string): string {
  const hash = createHash('sha256')
  const names = readdirSync(dockerDir, { withFileTypes: true })
    .filter(entry => entry.isFile() && entry.name !== PREBUILT_RECORD_FILE)
    .map(entry => entry.name)
    .sort()
  for (const name of names) {
    const content = readFileSync(path.join(dockerDir, name))
    hash.update(`${name}\0${content.length}\0`).update(content)
  }
  return `sha256:${hash.digest('hex')}`
}

/** The image reference to pull for `platform` (`linux/amd64`), or undefined when none was released. */
export function prebuiltReference(record: PrebuiltRecord, platform: string): string | undefined {
  const digest = record.platforms[platform]
  return digest ? `${record.repository}@${digest}` : undefined
}
