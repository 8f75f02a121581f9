import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import path from 'node:path'
import picomatch from 'picomatch'

/** One file of the docker build context, as the builder would see it. */
export interface ContextFile {
  /** Relative to the context root, with `/` separators. */
  path: string
  /** The file's bytes; for a symbolic link, the link's target (the builder copies the link). */
  content: Buffer
  /**
   * `lstat` mode bits (file type and permissions). COPY keeps permissions and copies links as
   * links, so both change the image. Optional so callers can pass plain contents.
   */
  mode?: number
}

/** Everything that defines the agent image: two equal sets give the same image. */
export interface ImageKeyIngredients {
  os: string
  arch: string
  dockerfileContent: Buffer | string
  /** Any order: sorted by path inside. */
  contextFiles: ContextFile[]
  /** Any order: sorted by name inside. */
  buildArgs: Record<string, string>
  /** Any order, duplicates ignored: apt installs a set. */
  extraPackages: string[]
  /**
   * The CLI version the image bakes in: '' for the bundled image, which has no CLI in it (the
   * CLI is its own cache entry, see cli-binary.ts); a custom Dockerfile may install one.
   */
  claudeCodeVersion: string
  /** Hex SHA-256 of the CA bundle given to the build; '' when the build is not given one. */
  caBundleSha256: string
  /** The stages' bases as the inputs name them (`debian:13-slim`), in stage order. */
  baseImageRefs: string[]
  /**
   * What those bases were when the image was built, pinned to their content (`name@sha256:…`
   * from the registry, `local@sha256:…` for an image only on this runner); empty when only the
   * references are known (a custom Dockerfile). The key's last part, so that the entries for
   * the same inputs on older bases share a prefix (see imageCacheKeyPrefix).
   */
  baseImageDigests?: string[]
}

/** Bump when the key's layout or what the cached tarball holds changes. */
const KEY_SCHEMA = 'v3'
const KEY_PREFIX = `claude-sandbox-image-${KEY_SCHEMA}`
const HASH_CHARS = 32
const BASE_HASH_CHARS = 12

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Keys must not contain commas (the cache client's rule); keep the readable parts plain. */
function keyPart(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '_')
  return cleaned === '' ? 'none' : cleaned
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * The Actions cache key of the agent image built from these ingredients:
 * `claude-sandbox-image-v3-<os>-<arch>[-<claudeVersion>]-<32 hex: the inputs>-<12 hex: the bases'
 * content>` (the version only for images that bake a CLI in).
 *
 * The inputs' hash covers a canonical JSON document (arrays of strings, so no two different
 * ingredient sets serialise alike the way a plain concatenation could), with build arguments and
 * context files sorted so their order does not matter. Base image references keep their order:
 * they name different stages. The bases' content comes last and on its own, so every entry for
 * the same inputs, whatever base digest it was built on, starts with imageCacheKeyPrefix(): the
 * restore key a runner uses when the base's registry cannot be reached.
 */
export function computeImageCacheKey(ingredients: ImageKeyIngredients): string {
  const digests = JSON.stringify({ baseImageDigests: ingredients.baseImageDigests ?? [] })
  return `${imageCacheKeyPrefix(ingredients)}${sha256Hex(digests).slice(0, BASE_HASH_CHARS)}`
}

/** Every key for these inputs, whatever the bases' digests, starts with this (it ends in `-`). */
export function imageCacheKeyPrefix(ingredients: ImageKeyIngredients): string {
  const contextFiles = [...ingredients.contextFiles]
    .sort((a, b) => byCodeUnits(a.path, b.path))
    .map(file => [file.path, sha256Hex(file.content), file.mode ?? null])
  const buildArgs = Object.entries(ingredients.buildArgs).sort(([a], [b]) => byCodeUnits(a, b))
  const extraPackages = [...new Set(ingredients.extraPackages)].sort(byCodeUnits)
  const canonical = JSON.stringify({
    schema: KEY_SCHEMA,
    os: ingredients.os,
    arch: ingredients.arch,
    dockerfile: sha256Hex(ingredients.dockerfileContent),
    contextFiles,
    buildArgs,
    extraPackages,
    claudeCodeVersion: ingredients.claudeCodeVersion,
    caBundleSha256: ingredients.caBundleSha256,
    baseImageRefs: ingredients.baseImageRefs
  })
  const hash = sha256Hex(canonical).slice(0, HASH_CHARS)
  return `${[
    KEY_PREFIX,
    keyPart(ingredients.os),
    keyPart(ingredients.arch),
    ...(ingredients.claudeCodeVersion ? [keyPart(ingredients.claudeCodeVersion)] : []),
    hash
  ].join('-')}-`
}

/**
 * The key of the released image pulled by digest (prebuilt.ts): its digest is its whole
 * content, so it is the whole key beside the platform.
 * `claude-sandbox-image-v3-<os>-<arch>-prebuilt-<32 hex of the manifest digest>`.
 */
export function prebuiltImageCacheKey(os: string, arch: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, '').slice(0, HASH_CHARS)
  return [KEY_PREFIX, keyPart(os), keyPart(arch), 'prebuilt', keyPart(hex)].join('-')
}

interface IgnoreRule {
  negated: boolean
  matches: (relativePath: string) => boolean
}

/**
 * The rules of a `.dockerignore` at the context root, close to the builder's own reading: one
 * pattern per line, `#` comments, `!` re-includes, a leading `/` ignored, `**` for any depth, the
 * last matching rule wins, and a pattern that matches a directory covers everything under it.
 */
function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim()
    if (line === '' || line.startsWith('#')) continue
    const negated = line.startsWith('!')
    if (negated) line = line.slice(1).trim()
    line = path.posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '')
    if (line === '' || line === '.') continue
    const isMatch = picomatch(line, { dot: true })
    rules.push({
      negated,
      matches: relativePath => {
        // A rule on a directory also covers its contents: test every leading part of the path.
        const parts = relativePath.split('/')
        for (let i = 1; i <= parts.length; i++) {
          if (isMatch(parts.slice(0, i).join('/'))) return true
        }
        return false
      }
    })
  }
  return rules
}

function isIgnored(rules: IgnoreRule[], relativePath: string): boolean {
  let ignored = false
  for (const rule of rules) {
    if (rule.matches(relativePath)) ignored = !rule.negated
  }
  return ignored
}

async function readIgnoreRules(dir: string): Promise<IgnoreRule[]> {
  try {
    return parseDockerignore(await readFile(path.join(dir, '.dockerignore'), 'utf8'))
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

/**
 * The files of a build context, sorted by path, with what the builder would copy: regular files
 * with their bytes, symbolic links with their target (not followed), each with its mode bits.
 * Files a `.dockerignore` at the root excludes are left out (see parseDockerignore for the
 * subset of its syntax that is honoured). Empty directories are not listed: they do not change
 * what a COPY of named files produces, and the action's context has none.
 */
export async function readContextFiles(dir: string): Promise<ContextFile[]> {
  const rules = await readIgnoreRules(dir)
  const files: ContextFile[] = []

  async function walk(relativeDir: string): Promise<void> {
    const entries = await readdir(path.join(dir, relativeDir), { withFileTypes: true })
    for (const entry of entries) {
      const relativePath = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`
      if (isIgnored(rules, relativePath)) continue
      const absolutePath = path.join(dir, relativePath)
      const stats = await lstat(absolutePath)
      if (stats.isDirectory()) {
        await walk(relativePath)
      } else if (stats.isSymbolicLink()) {
        files.push({
          path: relativePath,
          content: Buffer.from(await readlink(absolutePath)),
          mode: stats.mode
        })
      } else if (stats.isFile()) {
        files.push({ path: relativePath, content: await readFile(absolutePath), mode: stats.mode })
      }
    }
  }

  await walk('')
  return files.sort((a, b) => byCodeUnits(a.path, b.path))
}
