/**
 * The Claude Code CLI versions the action supports (pure): the range whose requests the API door
 * was checked against (src/api-door/api-policy.ts), from a named oldest to a named newest
 * release. Both ends run the end-to-end door tests in CI; releases in between were sampled. A
 * version outside it is refused while the inputs are read, before anything is fetched or run,
 * so a CLI whose requests nobody has checked never meets the door mid-run.
 *
 * Widening the range is a change to review: record the new version's requests
 * (`tsx scripts/record-cli-requests.ts`), run the door tests with it, then move the bound.
 */

export const SUPPORTED_CLI_VERSIONS = {
  /** About a hundred releases before the default; the first whose requests were recorded. */
  oldest: '2.1.232',
  /** The newest release when the range was last checked. */
  newest: '2.1.332'
} as const

/** `oldest–newest`, as the error, the README and action.yml say it. */
export function supportedRange(): string {
  return `${SUPPORTED_CLI_VERSIONS.oldest} to ${SUPPORTED_CLI_VERSIONS.newest}`
}

interface Parsed {
  core: [number, number, number]
  prerelease: string
}

function parse(version: string): Parsed | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version)
  if (!match) return undefined
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    prerelease: match[4] ?? ''
  }
}

/** Semver order of two exact versions (a prerelease sorts before its release); NaN if either is not one. */
export function compareVersions(a: string, b: string): number {
  const left = parse(a)
  const right = parse(b)
  if (!left || !right) return Number.NaN
  for (let i = 0; i < 3; i++) {
    const diff = (left.core[i] ?? 0) - (right.core[i] ?? 0)
    if (diff !== 0) return Math.sign(diff)
  }
  if (left.prerelease === right.prerelease) return 0
  if (left.prerelease === '') return 1
  if (right.prerelease === '') return -1
  return left.prerelease < right.prerelease ? -1 : 1
}

/**
 * Why `version` is outside the supported range, as the first half of an error (the caller adds
 * the remedy), or undefined when it is inside. `version` must already be an exact version.
 */
export function outsideSupportedRange(version: string): string | undefined {
  const { oldest, newest } = SUPPORTED_CLI_VERSIONS
  if (compareVersions(version, oldest) < 0) {
    return `claude-code-version ${version} is older than the supported range (${supportedRange()})`
  }
  if (compareVersions(version, newest) > 0) {
    return `claude-code-version ${version} is newer than the supported range (${supportedRange()}): the API door has not been checked against its requests`
  }
  return undefined
}
