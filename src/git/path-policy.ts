import picomatch from 'picomatch'
import { SYMLINK_MODE, type ChangedFile } from './diff-parse.js'

/**
 * Decides which changed paths may be published. Pure (no I/O): it judges the list that
 * createPatch or stagePatch produced, so every rule can be unit-tested without git.
 *
 * The agent is assumed hostile, so the rules also close the aliases that make two spellings the
 * same file on the case-insensitive, dot-trimming or Unicode-folding file systems of Windows and
 * macOS, where the published change will eventually be checked out.
 */

export interface PathPolicy {
  /** Globs (picomatch, dot files included, case-insensitive) a change may not touch. */
  protectedPaths: string[]
  /** Largest new file, in bytes, that may be published. */
  maxFileBytes: number
}

export interface PolicyViolation {
  path: string
  reason: string
}

export const DEFAULT_PROTECTED_PATHS: readonly string[] = ['.github/workflows/**']

/**
 * 50 MiB: GitHub warns on pushes of files over 50 MiB and refuses files over 100 MiB, and a blob
 * sent through the Git Data API travels base64-encoded (a third larger) in one JSON request. A
 * file that big from an unattended agent is almost always a build artefact or a dump, not a fix.
 */
export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024

/** Code points HFS+ ignores in names, so `.g\u200cit` is `.git` on macOS (git's own list). */
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g

/** Files git itself reads from the tree; git refuses them as symlinks (fsck, verify_path). */
const GIT_CONTROL_FILES = new Set(['.gitmodules', '.gitattributes', '.gitignore', '.mailmap'])

/** Splits on both separators: a backslash is a directory separator once checked out on Windows. */
function components(filePath: string): string[] {
  return filePath.split(/[/\\]/)
}

/** A component as Windows and macOS see it: case folded, HFS ignorables, NTFS trailing dots,
 * spaces and alternate data streams (`name::$DATA`) removed. */
function canonicalComponent(component: string): string {
  const withoutStream = component.split(':')[0] ?? ''
  return withoutStream
    .replace(HFS_IGNORABLE, '')
    .toLowerCase()
    .replace(/[. ]+$/, '')
}

function isDotGit(component: string): boolean {
  const canonical = canonicalComponent(component)
  // git~1 is the 8.3 short name Windows may give `.git`.
  return canonical === '.git' || canonical === 'git~1'
}

function isAbsolute(filePath: string): boolean {
  return /^[/\\]/.test(filePath) || /^[A-Za-z]:/.test(filePath)
}

/** Why a path (as git stores it) may not be published at all, whatever the policy says. */
function pathShapeProblems(filePath: string): string[] {
  const problems: string[] = []
  if (isAbsolute(filePath)) problems.push('absolute path')
  const parts = components(filePath)
  if (parts.includes('..')) problems.push('path has a ".." component')
  if (!isAbsolute(filePath) && parts.some(part => part === '' || part === '.')) {
    problems.push('path has an empty or "." component')
  }
  if (parts.some(isDotGit)) problems.push('path is inside .git')
  if (filePath.includes('\ufffd')) problems.push('file name is not valid UTF-8')
  return problems
}

/**
 * Resolves a symlink's target lexically from the link's directory. Only a leading run of `..` is
 * accepted: `a/../..` could climb out through `a` if `a` is itself a link, which lexical
 * resolution cannot see, so a `..` after a name is refused rather than guessed about.
 */
function symlinkProblems(linkPath: string, target: string | undefined): string[] {
  if (target === undefined) return ['symlink target unknown']
  if (target === '' || target.includes('\0')) return ['symlink has an empty or invalid target']
  const shown = JSON.stringify(target) // a target may hold a newline; keep the message one line
  if (isAbsolute(target)) return [`symlink points to an absolute path (${shown})`]

  const resolved = components(linkPath).slice(0, -1)
  let afterName = false
  let escapes = false
  let dotDotAfterName = false
  for (const part of components(target)) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (afterName) dotDotAfterName = true
      if (resolved.length === 0) escapes = true
      else resolved.pop()
    } else {
      afterName = true
      resolved.push(part)
    }
  }
  if (escapes) return [`symlink points outside the repository (${shown})`]
  if (dotDotAfterName) {
    return [`symlink target has ".." after a name, which may climb through another link (${shown})`]
  }
  if (resolved.some(isDotGit)) return [`symlink points into .git (${shown})`]
  return []
}

interface ProtectedPattern {
  pattern: string
  matches: (filePath: string) => boolean
  /** The pattern's literal leading directories, lower-cased ('' when it starts with a glob). */
  base: string
}

function compileProtected(patterns: readonly string[]): ProtectedPattern[] {
  return patterns
    .filter(pattern => pattern.trim() !== '')
    .map(pattern => {
      const scan = picomatch.scan(pattern)
      return {
        pattern,
        matches: picomatch(pattern, { dot: true, nocase: true }),
        base: scan.negated ? '' : scan.base.toLowerCase()
      }
    })
}

/** The spellings under which a path may land on disk somewhere. */
function spellings(filePath: string): string[] {
  const canonical = components(filePath)
    .map(part => (part === '.' || part === '..' ? part : canonicalComponent(part)))
    .join('/')
  return [...new Set([filePath, filePath.replace(/\\/g, '/'), canonical])]
}

function protectedProblems(filePath: string, patterns: ProtectedPattern[]): string[] {
  const problems: string[] = []
  const names = spellings(filePath)
  for (const { pattern, matches, base } of patterns) {
    if (names.some(name => matches(name))) {
      problems.push(`matches protected path "${pattern}"`)
    } else if (base && names.some(name => isAncestorOrSelf(name.toLowerCase(), base))) {
      // A file or link where a protected directory should be redirects everything beneath it.
      problems.push(`replaces a directory holding protected path "${pattern}"`)
    }
  }
  return problems
}

function isAncestorOrSelf(candidate: string, directory: string): boolean {
  return directory === candidate || directory.startsWith(`${candidate}/`)
}

function formatBytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB (${bytes} bytes)`
}

export function checkPathPolicy(
  files: readonly ChangedFile[],
  policy: Partial<PathPolicy> = {}
): PolicyViolation[] {
  const patterns = compileProtected(policy.protectedPaths ?? DEFAULT_PROTECTED_PATHS)
  const maxFileBytes = policy.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const violations: PolicyViolation[] = []
  const seen = new Set<string>()
  const refuse = (filePath: string, reasons: string[]): void => {
    for (const reason of reasons) {
      const key = `${filePath}\0${reason}`
      if (seen.has(key)) continue
      seen.add(key)
      violations.push({ path: filePath, reason })
    }
  }

  for (const file of files) {
    refuse(file.path, pathShapeProblems(file.path))
    refuse(file.path, protectedProblems(file.path, patterns))
    if (file.oldPath !== undefined) {
      refuse(file.oldPath, pathShapeProblems(file.oldPath))
      // A copy leaves its source alone; a rename removes it.
      if (file.status === 'renamed') {
        const moved = protectedProblems(file.oldPath, patterns)
        refuse(
          file.oldPath,
          moved.map(reason => `renamed to ${JSON.stringify(file.path)}: ${reason}`)
        )
      }
    }
    if (file.status === 'deleted') continue

    if (file.newMode === SYMLINK_MODE) {
      refuse(file.path, symlinkProblems(file.path, file.symlinkTarget))
      const name = components(file.path).at(-1) ?? ''
      if (GIT_CONTROL_FILES.has(canonicalComponent(name))) {
        refuse(file.path, [`${name} may not be a symlink`])
      }
    }
    if (file.size !== undefined && file.size > maxFileBytes) {
      refuse(file.path, [
        `file is ${formatBytes(file.size)}, over the ${formatBytes(maxFileBytes)} limit`
      ])
    }
  }
  return violations
}

/**
 * One line naming every offending path with its reasons, for the step's error message. Paths are
 * JSON-quoted so a name holding a newline or a quote cannot break or forge the line.
 */
export function formatViolations(violations: readonly PolicyViolation[]): string {
  const reasonsByPath = new Map<string, string[]>()
  for (const { path, reason } of violations) {
    const reasons = reasonsByPath.get(path) ?? []
    reasons.push(reason)
    reasonsByPath.set(path, reasons)
  }
  return [...reasonsByPath]
    .map(([path, reasons]) => `${JSON.stringify(path)} (${reasons.join('; ')})`)
    .join(', ')
}
