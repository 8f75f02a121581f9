import picomatch from 'picomatch'
import { sectionPath } from '../git/patch-digest.js'
import { findSecrets, type Finding, type KnownSecrets } from './scan.js'

/**
 * The secret scan over a patch: every finding placed in its file and, for an added line, at its
 * line number in the new file. What the agent added decides (refusal); what the patch shows
 * anywhere is redacted before it is published.
 */

export interface PatchFinding extends Finding {
  /** The file's path in the new tree ('' before the first file). */
  file: string
  /** Line in the new file, for a finding on an added line. */
  line?: number
  /** On an added line, or in a file header (a file name is published too). */
  added: boolean
  /** A format finding in a path `secret-scan-allow` allows (never a known value). */
  allowed: boolean
}

/** The globs of `secret-scan-allow` as one matcher (dot files included, case-sensitive). */
export function allowMatcher(globs: readonly string[]): (file: string) => boolean {
  if (globs.length === 0) return () => false
  const matchers = globs.map(glob => picomatch(glob, { dot: true }))
  return file => matchers.some(match => match(file))
}

export function scanPatch(
  patchText: string,
  known: KnownSecrets,
  allow: readonly string[] = []
): PatchFinding[] {
  const findings = findSecrets(patchText, known)
  if (findings.length === 0) return []
  const isAllowed = allowMatcher(allow)
  const starts = sectionStarts(patchText)
  const result: PatchFinding[] = []
  // Findings are in order; each section is walked once, up to its last finding.
  let index = 0
  for (let s = -1; s < starts.length && index < findings.length; s++) {
    const start = s < 0 ? 0 : (starts[s] as number)
    const end = s + 1 < starts.length ? (starts[s + 1] as number) : patchText.length
    const inSection: Finding[] = []
    while (index < findings.length && (findings[index] as Finding).start < end) {
      inSection.push(findings[index] as Finding)
      index++
    }
    if (inSection.length === 0) continue
    const file = s < 0 ? '' : sectionPath(patchText.slice(start, Math.min(end, start + 4096)))
    for (const placed of placeInSection(patchText, start, end, inSection)) {
      result.push({ ...placed, file, allowed: placed.kind === 'format' && isAllowed(file) })
    }
  }
  return result
}

/** Offsets where each `diff --git` section begins. */
function sectionStarts(text: string): number[] {
  const starts: number[] = []
  if (text.startsWith('diff --git ')) starts.push(0)
  for (
    let at = text.indexOf('\ndiff --git ');
    at >= 0;
    at = text.indexOf('\ndiff --git ', at + 1)
  ) {
    starts.push(at + 1)
  }
  return starts
}

/** Walks a section's lines, counting the new file's line numbers through its hunks. */
function placeInSection(
  text: string,
  start: number,
  end: number,
  findings: Finding[]
): Array<Finding & { line?: number; added: boolean }> {
  const placed: Array<Finding & { line?: number; added: boolean }> = []
  let next = 0
  let inHunks = false
  let binary = false
  let newLine = 0
  for (let lineStart = start; lineStart < end && next < findings.length;) {
    const newline = text.indexOf('\n', lineStart)
    const lineEnd = newline < 0 || newline >= end ? end : newline
    const first = text[lineStart]
    let added = false
    let lineNumber: number | undefined
    if (!inHunks && text.startsWith('GIT binary patch', lineStart)) binary = true
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(
      text.slice(lineStart, Math.min(lineEnd, lineStart + 200))
    )
    if (hunk) {
      inHunks = true
      newLine = Number(hunk[1])
    } else if (!inHunks) {
      // Header lines: the file names are published as they are (binary data is not text).
      added = !binary
    } else if (first === '+') {
      added = true
      lineNumber = newLine++
    } else if (first === ' ') {
      newLine++
    }
    // Every finding that starts on this line (a PEM block may run on past it).
    while (next < findings.length && (findings[next] as Finding).start <= lineEnd) {
      const finding = findings[next] as Finding
      placed.push({ ...finding, added, ...(lineNumber === undefined ? {} : { line: lineNumber }) })
      next++
    }
    lineStart = lineEnd + 1
  }
  return placed
}

/** `file:line` of a finding, for messages. */
export function findingLocation(finding: PatchFinding): string {
  const file = finding.file || '(patch header)'
  return finding.line === undefined ? file : `${file}:${finding.line}`
}
