/**
 * The GitHub release's notes: CHANGELOG.md's section for the version (Keep a Changelog: a
 * `## [1.2.3] - 2026-01-31` heading, up to the next `## ` heading or the link references at the
 * end). A release without a section fails here, before anything is pushed.
 *
 *   npx tsx scripts/release-notes.ts 1.2.3 [CHANGELOG.md]      (prints the notes)
 *   npx tsx scripts/release-notes.ts --version-from v1.2.3     (prints 1.2.3, or fails)
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const VERSION = /^\d+\.\d+\.\d+$/

/** `1.2.3` from `v1.2.3`, `refs/tags/v1.2.3` or `1.2.3`; throws on anything else. */
export function releaseVersion(ref: string): string {
  const version = ref
    .trim()
    .replace(/^refs\/tags\//, '')
    .replace(/^v/, '')
  if (!VERSION.test(version))
    throw new Error(`"${ref}" is not a release version: use vMAJOR.MINOR.PATCH (v1.2.3)`)
  return version
}

/** The major tag a release moves: `v1` for 1.2.3. */
export function majorTag(version: string): string {
  return `v${releaseVersion(version).split('.')[0] as string}`
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The body of CHANGELOG's section for `version`, trimmed; throws when there is none or it is empty. */
export function changelogSection(changelog: string, version: string): string {
  const lines = changelog.replace(/\r\n/g, '\n').split('\n')
  const heading = new RegExp(`^## \\[?v?${escapeRegExp(version)}\\]?(?:\\s|$)`)
  const start = lines.findIndex(line => heading.test(line))
  if (start < 0)
    throw new Error(
      `CHANGELOG.md has no section for ${version}: add "## [${version}] - YYYY-MM-DD" with the release's changes`
    )
  const rest = lines.slice(start + 1)
  // The section ends at the next version heading or at the link reference definitions.
  const end = rest.findIndex(line => /^## /.test(line) || /^\[[^\]]+\]:\s/.test(line))
  const body = (end < 0 ? rest : rest.slice(0, end)).join('\n').trim()
  if (!body) throw new Error(`CHANGELOG.md's section for ${version} is empty`)
  return `${body}\n`
}

function main(argv: string[]): void {
  if (argv[0] === '--version-from') {
    console.log(releaseVersion(argv[1] ?? ''))
    return
  }
  const version = releaseVersion(argv[0] ?? '')
  const file = argv[1] ?? 'CHANGELOG.md'
  process.stdout.write(changelogSection(readFileSync(file, 'utf8'), version))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2))
  } catch (error: unknown) {
    console.log(`::error::${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
