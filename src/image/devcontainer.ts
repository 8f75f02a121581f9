import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser'
import { ConfigurationError } from '../errors.js'
import { createGit } from '../git/git.js'

/** Where the Dev Containers specification looks, in its order. */
export const DEVCONTAINER_PATHS = ['.devcontainer/devcontainer.json', '.devcontainer.json']

const SUPPORTED =
  'Supported: a devcontainer.json whose `image` names a Debian or Ubuntu image, without `features`; otherwise set `base-image` to an image name'

/**
 * The `image` of a devcontainer.json's text (JSONC: comments and trailing commas allowed).
 * Dockerfile- or Compose-based definitions and features are refused with what is supported:
 * the action builds its own agent layer on the image and cannot run a devcontainer's build.
 */
export function devcontainerImage(text: string, where: string): string {
  const errors: ParseError[] = []
  const config: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false })
  if (errors.length > 0) {
    const first = errors[0] as ParseError
    const line = text.slice(0, first.offset).split('\n').length
    throw new ConfigurationError(
      `${where} is not valid JSON with comments (${printParseErrorCode(first.error)} at line ${line})`,
      'Fix the file, or set `base-image` to an image name'
    )
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigurationError(`${where} does not hold a JSON object`, SUPPORTED)
  }
  const record = config as Record<string, unknown>
  const built = ['build', 'dockerFile', 'dockerfile', 'dockerComposeFile'].filter(
    field => field in record
  )
  if (built.length > 0) {
    throw new ConfigurationError(
      `${where} builds its image (\`${built.join('`, `')}\`), which base-image: devcontainer does not do`,
      SUPPORTED
    )
  }
  const features = record.features
  if (
    features !== undefined &&
    !(typeof features === 'object' && features !== null && Object.keys(features).length === 0)
  ) {
    throw new ConfigurationError(
      `${where} uses devcontainer features, which base-image: devcontainer does not install`,
      `${SUPPORTED} (add what the features provide to the image, or to \`extra-packages\`)`
    )
  }
  const image = record.image
  if (typeof image !== 'string' || image.trim() === '') {
    throw new ConfigurationError(`${where} has no \`image\``, SUPPORTED)
  }
  return image.trim()
}

/**
 * Reads the devcontainer's image from the commit — the pull request's base on pull request
 * events, HEAD otherwise — through the hardened git wrapper, so neither the working tree nor a
 * pull request can choose the image the agent runs in.
 */
export async function readDevcontainerImage(workspace: string, baseSha?: string): Promise<string> {
  const rev = baseSha ?? 'HEAD'
  const where =
    rev === 'HEAD' ? 'the checked-out commit' : `the pull request's base (${rev.slice(0, 12)})`
  const git = createGit(workspace)
  for (const file of DEVCONTAINER_PATHS) {
    const listing = await git.tryRun(['ls-tree', '-z', rev, '--', file])
    const entry = listing.stdout.toString('utf8').split('\0')[0] ?? ''
    const match = /^(\d{6}) (\w+) ([0-9a-f]+)\t/.exec(entry)
    if (listing.exitCode !== 0 || !match) continue
    if (match[1] === '120000' || match[2] !== 'blob') {
      throw new ConfigurationError(
        `${file} in ${where} is not a regular file (a symbolic link?)`,
        'Commit the devcontainer.json itself'
      )
    }
    const text = (await git.run(['cat-file', 'blob', match[3] ?? ''])).stdout.toString('utf8')
    return devcontainerImage(text, `${file} (in ${where})`)
  }
  throw new ConfigurationError(
    `base-image is \`devcontainer\`, but ${where} has no ${DEVCONTAINER_PATHS.join(' or ')}`,
    'Commit a devcontainer.json with an `image` (on the base branch for pull requests), or set `base-image` to an image name'
  )
}
