import picomatch from 'picomatch'
import { GITLINK_MODE, SYMLINK_MODE, type ChangedFile } from './diff-parse.js'

/**
 * Decides which changed paths may be published. Pure (no I/O): it judges the list that
 * createPatch or stagePatch produced, so every rule can be unit-tested without git.
 *
 * The agent is assumed hostile, so the rules also close the aliases that make two spellings the
 * same file on the case-insensitive, dot-trimming or Unicode-folding file systems of Windows and
 * macOS, where the published change will eventually be checked out.
 */

export interface PathPolicy {
  /**
   * Globs (picomatch, dot files included, case-insensitive) a change may not touch, read in
   * order; an entry starting with `!` allows what earlier entries protect, and the last entry
   * matching a path decides (as in .gitignore). A `!` entry matching a submodule's path also
   * allows changing that submodule's pointer.
   */
  protectedPaths: string[]
  /** Largest new file, in bytes, that may be published. */
  maxFileBytes: number
}

export interface PolicyViolation {
  path: string
  reason: string
}

/**
 * Everything that runs in CI or governs review. A change to any of these would run with the
 * repository's secrets on the next workflow run (workflows, composite and local actions, other
 * CI systems' pipelines), change who must review (CODEOWNERS), or change how git and GitHub
 * show, convert and check out files (.gitattributes, .gitmodules). GitHub blocks workflow edits
 * by GITHUB_TOKEN, but not composite actions, so the whole of .github is covered.
 */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = [
  // GitHub: workflows, composite actions, CODEOWNERS, dependabot and other configuration.
  '.github/**',
  // Local actions anywhere (`uses: ./path`) run inside the workflow that references them.
  '**/action.yml',
  '**/action.yaml',
  'CODEOWNERS',
  'docs/CODEOWNERS',
  // Git's own controls.
  '.gitmodules',
  '**/.gitattributes',
  // Other CI systems.
  '.gitlab-ci.yml',
  '.gitlab/**',
  '.circleci/**',
  'Jenkinsfile',
  '**/Jenkinsfile',
  'azure-pipelines.yml',
  'azure-pipelines.yaml',
  '.azure-pipelines/**',
  '.buildkite/**',
  '.travis.yml',
  'appveyor.yml',
  '.appveyor.yml',
  'bitbucket-pipelines.yml',
  '.drone.yml',
  '.woodpecker.yml',
  '.woodpecker/**',
  '.pre-commit-config.yaml'
]

/**
 * The `protected-paths` input as a list: entries that only allow (all start with `!`) are added
 * to the defaults, so `!.github/dependabot.yml` keeps every other protection; a list with any
 * plain entry replaces the defaults.
 */
export function resolveProtectedPaths(entries: readonly string[]): string[] {
  const listed = entries.map(entry => entry.trim()).filter(entry => entry !== '')
  if (listed.length === 0) return [...DEFAULT_PROTECTED_PATHS]
  if (listed.every(entry => entry.startsWith('!'))) return [...DEFAULT_PROTECTED_PATHS, ...listed]
  return listed
}

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
  /** A `!` entry: allows what earlier entries protect. */
  allows: boolean
  matches: (filePath: string) => boolean
  /** The glob's literal leading directories, lower-cased ('' when it starts with a glob). */
  base: string
}

function compileProtected(patterns: readonly string[]): ProtectedPattern[] {
  return patterns
    .map(pattern => pattern.trim())
    .filter(pattern => pattern !== '' && pattern !== '!')
    .map(pattern => {
      const allows = pattern.startsWith('!')
      const glob = allows ? pattern.slice(1) : pattern
      return {
        pattern,
        allows,
        matches: picomatch(glob, { dot: true, nocase: true }),
        base: picomatch.scan(glob).base.toLowerCase()
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

/**
 * Why one spelling is protected: the last entry that matches it decides. A file or link where a
 * protected directory should be counts as matching: it would redirect everything beneath it.
 */
function verdictFor(name: string, patterns: ProtectedPattern[]): string | undefined {
  let verdict: string | undefined
  for (const { pattern, allows, matches, base } of patterns) {
    if (matches(name)) {
      verdict = allows ? undefined : `matches protected path "${pattern}"`
    } else if (!allows && base && isAncestorOrSelf(name.toLowerCase(), base)) {
      verdict = `replaces a directory holding protected path "${pattern}"`
    }
  }
  return verdict
}

/** Protected when any spelling is: an allow entry must match every way the path can land. */
function protectedProblems(filePath: string, patterns: ProtectedPattern[]): string[] {
  const problems = spellings(filePath).map(name => verdictFor(name, patterns))
  return [...new Set(problems.filter((problem): problem is string => problem !== undefined))]
}

/** True when an allow (`!`) entry matching the path is the last matching entry. */
function explicitlyAllowed(filePath: string, patterns: ProtectedPattern[]): boolean {
  return spellings(filePath).every(name => {
    let allowed = false
    for (const { allows, matches } of patterns) if (matches(name)) allowed = allows
    return allowed
  })
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
    const gitlink = file.newMode === GITLINK_MODE || file.oldMode === GITLINK_MODE
    if (gitlink && !explicitlyAllowed(file.path, patterns)) {
      // A pointer to a commit nobody reviewed: the diff shows only a hash, and the checkout of
      // the next workflow run fetches and builds whatever that commit holds.
      refuse(file.path, [
        `changes a submodule pointer (mode ${GITLINK_MODE}); allow it with "!${file.path}" in protected-paths`
      ])
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
