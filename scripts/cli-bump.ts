/**
 * Keeping the pinned Claude Code CLI current (.github/workflows/cli-bump.yml):
 *   check   compares the pinned default (src/constants.ts) with the registry's `latest` release
 *           and says whether a bump is due (GITHUB_OUTPUT: current, version, newer);
 *   apply   rewrites every place that names the default version (BUMP_SITES) from the current
 *           one to `--to`, failing when a place is missing so a moved default cannot be skipped;
 *           with `--fixture`, the recorded CLI requests (scripts/record-cli-requests.ts) replace
 *           the old version's, and the request policy's test reads them;
 *   body    prints the pull request's text.
 * The workflow runs the end-to-end tests with the new CLI between `apply` and the pull request:
 * the API door's allow-lists are learned from the CLI (src/api-door/api-policy.ts), so a new
 * field or beta header shows up as a refused request there, not in users' runs.
 *
 *   npx tsx scripts/cli-bump.ts check [--latest X.Y.Z]
 *   npx tsx scripts/cli-bump.ts apply --to X.Y.Z [--fixture RECORDING] [--root DIR]
 *   npx tsx scripts/cli-bump.ts body --from X.Y.Z --to X.Y.Z
 */
import { execFileSync } from 'node:child_process'
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { compareVersions as compareCliVersions } from '../src/agent/cli-versions.js'

export const CLI_PACKAGE = '@anthropic-ai/claude-code'
const EXACT = /^(\d+)\.(\d+)\.(\d+)$/

/**
 * Compares exact releases (X.Y.Z): negative when a < b. The order is the action's own
 * (src/agent/cli-versions.ts); this refuses anything else, prereleases included.
 */
export function compareVersions(a: string, b: string): number {
  for (const version of [a, b])
    if (!EXACT.test(version)) throw new Error(`not an exact version: "${version}"`)
  return compareCliVersions(a, b)
}

/**
 * The version to bump to, or undefined: the registry's `latest` when it is an exact release
 * newer than the pinned one (a prerelease or an older `latest`, after a yank, is no bump).
 */
export function bumpTarget(current: string, latest: string | undefined): string | undefined {
  if (!latest || !EXACT.test(latest)) return undefined
  return compareVersions(latest, current) > 0 ? latest : undefined
}

/** A place in the repository that names the default CLI version. */
export interface BumpSite {
  file: string
  /** Matches the whole site; group 1 is the text before the version, group 2 the version. */
  pattern: RegExp
  what: string
}

export const BUMP_SITES: readonly BumpSite[] = [
  {
    file: 'src/constants.ts',
    pattern: /(export const DEFAULT_CLAUDE_CODE_VERSION = ')(\d+\.\d+\.\d+)(?=')/,
    what: 'the default the action uses'
  },
  {
    file: 'action.yml',
    pattern: /(\n {2}claude-code-version:\n(?: {4}.*\n|\s*\n)*? {4}default: ['"]?)(\d+\.\d+\.\d+)/,
    what: 'action.yml input default'
  },
  {
    file: '.github/workflows/claude-sandbox.yml',
    pattern: /(\n {6}claude-code-version:\n(?: {8}.*\n)*? {8}default: ['"]?)(\d+\.\d+\.\d+)/,
    what: 'the reusable workflow’s input default'
  },
  {
    file: 'README.md',
    pattern: /(\| `claude-code-version` \|[^\n]*\| `)(\d+\.\d+\.\d+)(?=` \|)/,
    what: 'the README’s inputs table'
  }
]

export interface SiteEdit {
  file: string
  what: string
  from: string | undefined
}

/**
 * `text` with the site's version replaced by `to`, and the version it had. The site must name
 * `from`: a site already elsewhere means the repository disagrees with itself, which a person
 * should look at.
 */
export function editSite(
  text: string,
  site: BumpSite,
  from: string,
  to: string
): { text: string; found: string | undefined } {
  const match = site.pattern.exec(text)
  if (!match) return { text, found: undefined }
  const found = match[2]
  if (found !== from) return { text, found }
  const start = match.index + (match[1] ?? '').length
  return { text: text.slice(0, start) + to + text.slice(start + from.length), found }
}

/** Reads the pinned default from src/constants.ts. */
export function currentVersion(root: string): string {
  const site = BUMP_SITES[0] as BumpSite
  const match = site.pattern.exec(readFileSync(path.join(root, site.file), 'utf8'))
  if (!match?.[2]) throw new Error(`${site.file}: DEFAULT_CLAUDE_CODE_VERSION not found`)
  return match[2]
}

export const FIXTURES_DIR = '__tests__/fixtures'
/** The test that reads the recorded requests by file name. */
export const FIXTURE_READER = '__tests__/unit/api-policy.test.ts'

export function fixtureName(version: string): string {
  return `cli-requests-${version}.json`
}

/** Where the supported range's ends are named (src/agent/cli-versions.ts). */
export const RANGE_FILE = 'src/agent/cli-versions.ts'
const NEWEST = /(\bnewest: ')(\d+\.\d+\.\d+)(?=')/
const OLDEST = /\boldest: '(\d+\.\d+\.\d+)'/

/**
 * Adds the recording of `to` (the text of a file scripts/record-cli-requests.ts wrote) to the
 * recorded CLI requests, which the policy test reads whole (every cli-requests-*.json), and
 * drops the old default's recording unless it is the supported range's oldest end (CI keeps
 * testing both ends). Throws, changing nothing, on an empty recording or a policy test that no
 * longer reads the recordings by pattern.
 */
export function replaceFixture(root: string, from: string, to: string, recording: string): void {
  const parsed = JSON.parse(recording) as { requests?: unknown }
  if (!Array.isArray(parsed.requests) || parsed.requests.length === 0)
    throw new Error('the new recording holds no requests')
  const reader = readFileSync(path.join(root, FIXTURE_READER), 'utf8')
  if (!reader.includes('cli-requests-'))
    throw new Error(`${FIXTURE_READER} does not read the recorded requests (cli-requests-*.json)`)
  const oldest = OLDEST.exec(readFileSync(path.join(root, RANGE_FILE), 'utf8'))?.[1]
  writeFileSync(path.join(root, FIXTURES_DIR, fixtureName(to)), recording)
  if (from !== oldest) rmSync(path.join(root, FIXTURES_DIR, fixtureName(from)), { force: true })
}

/** Moves the supported range's newest end up to `to` when `to` is past it. */
export function widenRange(root: string, to: string): void {
  const file = path.join(root, RANGE_FILE)
  const text = readFileSync(file, 'utf8')
  const newest = NEWEST.exec(text)?.[2]
  if (!newest) throw new Error(`${RANGE_FILE}: the supported range's newest end not found`)
  if (compareVersions(to, newest) > 0) writeFileSync(file, text.replace(NEWEST, `$1${to}`))
}

/** Rewrites every site from the current default to `to`; throws, changing nothing, on a bad site. */
export function applyBump(
  root: string,
  to: string,
  recording?: string
): { from: string; edits: SiteEdit[] } {
  if (!EXACT.test(to)) throw new Error(`--to must be an exact version, got "${to}"`)
  const from = currentVersion(root)
  if (compareVersions(to, from) <= 0) throw new Error(`${to} is not newer than the pinned ${from}`)
  const results = BUMP_SITES.map(site => {
    const file = path.join(root, site.file)
    const result = editSite(readFileSync(file, 'utf8'), site, from, to)
    return { site, file, ...result }
  })
  const wrong = results.filter(result => result.found !== from)
  if (wrong.length > 0)
    throw new Error(
      wrong
        .map(r =>
          r.found === undefined
            ? `${r.site.file}: ${r.site.what} not found (update BUMP_SITES in scripts/cli-bump.ts)`
            : `${r.site.file}: ${r.site.what} is ${r.found}, not the pinned ${from}`
        )
        .join('; ')
    )
  if (recording !== undefined) replaceFixture(root, from, to, recording)
  for (const result of results) writeFileSync(result.file, result.text)
  widenRange(root, to)
  return {
    from,
    edits: results.map(r => ({ file: r.site.file, what: r.site.what, from: r.found }))
  }
}

export function pullRequestBody(from: string, to: string): string {
  return [
    `Bumps the default \`claude-code-version\` from ${from} to ${to} (${CLI_PACKAGE}).`,
    '',
    'Made by `.github/workflows/cli-bump.yml` after the unit and end-to-end tests passed with the',
    `new CLI: the real ${to} binary ran in the sandbox against the scripted model, and the API`,
    'door refused none of its requests (its allow-lists are learned from the CLI, see',
    '`src/api-door/api-policy.ts`). The requests the CLI sends were recorded again with',
    `${to} (\`${FIXTURES_DIR}/${fixtureName(to)}\`, replacing ${fixtureName(from)}) and the request`,
    "policy's test passed on every one of them.",
    '',
    'Before merging:',
    `- [ ] compare the two recordings (\`git diff --no-index\` of ${fixtureName(from)} from the base`,
    '      branch and the new one): a new top-level field or `anthropic-beta` value that the policy',
    '      lets through should be reviewed, and `MEASURED_CLI_VERSION` updated;',
    '- [ ] read the CLI changelog for changes to flags the action passes (`src/agent/claude-args.ts`).',
    '',
    'A pull request opened with the workflow token does not start other workflows: close and',
    'reopen it (or push to it) to run CI.'
  ].join('\n')
}

/** The registry's `latest` dist-tag, through the ordinary npm client. */
function latestPublished(): string {
  return execFileSync('npm', ['view', CLI_PACKAGE, 'dist-tags.latest'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit']
  }).trim()
}

function output(values: Record<string, string>): void {
  const lines = Object.entries(values).map(([key, value]) => `${key}=${value}`)
  for (const line of lines) console.log(line)
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, `${lines.join('\n')}\n`)
}

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

function flag(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`)
  return at >= 0 ? argv[at + 1] : undefined
}

function main(argv: string[]): void {
  const root = path.resolve(flag(argv, 'root') ?? ROOT)
  switch (argv[0]) {
    case 'check': {
      const current = currentVersion(root)
      const latest = flag(argv, 'latest') ?? latestPublished()
      const target = bumpTarget(current, latest)
      output({ current, latest, version: target ?? '', newer: String(target !== undefined) })
      return
    }
    case 'apply': {
      const to = flag(argv, 'to')
      if (!to) throw new Error('apply needs --to X.Y.Z')
      const fixture = flag(argv, 'fixture')
      const recording = fixture === undefined ? undefined : readFileSync(fixture, 'utf8')
      const { from, edits } = applyBump(root, to, recording)
      for (const edit of edits) console.log(`${edit.file}: ${from} -> ${to} (${edit.what})`)
      if (recording !== undefined)
        console.log(
          `${FIXTURES_DIR}/${fixtureName(from)} -> ${fixtureName(to)} (recorded requests)`
        )
      return
    }
    case 'body': {
      const from = flag(argv, 'from')
      const to = flag(argv, 'to')
      if (!from || !to) throw new Error('body needs --from and --to')
      console.log(pullRequestBody(from, to))
      return
    }
    default:
      throw new Error(`unknown command "${argv[0] ?? ''}" (check, apply or body)`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2))
  } catch (error: unknown) {
    console.log(`::error::${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
