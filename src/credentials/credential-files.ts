import { lstat, readFile } from 'node:fs/promises'
import path from 'node:path'
import picomatch from 'picomatch'
import { createGit } from '../git/git.js'
import type { KnownSecret } from '../secrets/scan.js'

/**
 * Credential files that steps before ours leave in the working tree (google-github-actions/auth
 * writes `gha-creds-*.json` there by default; setup-node and twine configs carry registry
 * tokens). Each one found is hidden from the agent (an empty read-only file is mounted in its
 * place), never enters the patch, and its secrets join the run's known set for the scan.
 *
 * Only files git does not track are hidden: a credential committed to the repository is in its
 * history, which the agent can read anyway, and hiding it would show the agent a change.
 */

export interface CredentialFileKind {
  /** A git glob (`:(glob)` pathspec magic), also matched with picomatch. */
  glob: string
  /** What wrote it, for the README and the log. */
  what: string
  /** Hidden only when the content matches; absent: always hidden. */
  holdsToken?: RegExp
}

export const CREDENTIAL_FILES: readonly CredentialFileKind[] = [
  { glob: '**/gha-creds-*.json', what: 'google-github-actions/auth credentials' },
  {
    glob: '**/application_default_credentials.json',
    what: 'Google application default credentials'
  },
  { glob: '**/.aws/credentials', what: 'AWS shared credentials' },
  { glob: '**/.git-credentials', what: 'git credential store' },
  {
    glob: '**/.npmrc',
    what: 'npm registry token',
    holdsToken: /(_authToken|_auth|_password)\s*=/i
  },
  {
    glob: '**/.yarnrc.yml',
    what: 'Yarn registry token',
    holdsToken: /npmAuth(Token|Ident)|npmPassword/i
  },
  { glob: '**/.yarnrc', what: 'Yarn registry token', holdsToken: /_authToken|_auth|password/i },
  {
    glob: '**/.pypirc',
    what: 'PyPI upload password or token',
    holdsToken: /^\s*password\s*[=:]/im
  },
  { glob: '**/.netrc', what: 'netrc password', holdsToken: /\bpassword\s+\S/ },
  { glob: '**/_netrc', what: 'netrc password', holdsToken: /\bpassword\s+\S/ },
  {
    glob: '**/.docker/config.json',
    what: 'Docker registry auth',
    holdsToken: /"(auth|identitytoken|registrytoken)"\s*:\s*"[^"]/i
  },
  {
    glob: '**/.kube/config',
    what: 'Kubernetes credentials',
    holdsToken: /\b(token|client-key-data|password)\s*:/
  },
  { glob: '**/.gem/credentials', what: 'RubyGems API key' },
  { glob: '**/.cargo/credentials.toml', what: 'Cargo registry token' },
  { glob: '**/.cargo/credentials', what: 'Cargo registry token' },
  { glob: '**/.m2/settings.xml', what: 'Maven server password', holdsToken: /<password>/i },
  { glob: '**/.config/gh/hosts.yml', what: 'GitHub CLI token', holdsToken: /oauth_token\s*:/ }
]

/** Larger files are hidden without being read for their values. */
const MAX_READ_BYTES = 1024 * 1024

export interface HiddenFile {
  /** Relative to the working tree, with `/`. */
  path: string
  what: string
}

export interface CredentialFiles {
  hidden: HiddenFile[]
  secrets: KnownSecret[]
}

const matchers = CREDENTIAL_FILES.map(kind => ({
  kind,
  match: picomatch(kind.glob, { dot: true })
}))

/** The kind of credential file a path is, by name only. */
export function credentialFileKind(file: string): CredentialFileKind | undefined {
  return matchers.find(m => m.match(file))?.kind
}

/** Untracked (or ignored) credential files in the working tree, and the secrets they hold. */
export async function findCredentialFiles(workspace: string): Promise<CredentialFiles> {
  const git = createGit(workspace)
  const listed = await git.run([
    'ls-files',
    '-z',
    '--others',
    '--',
    ...CREDENTIAL_FILES.map(kind => `:(glob)${kind.glob}`)
  ])
  const hidden: HiddenFile[] = []
  const secrets: KnownSecret[] = []
  for (const file of listed.stdout.toString('utf8').split('\0')) {
    if (file === '') continue
    const kind = credentialFileKind(file)
    if (!kind) continue
    const full = path.join(workspace, file)
    const info = await lstat(full).catch(() => undefined)
    // A symlink is left as it is: what it points to outside the tree is not in the container.
    if (!info?.isFile()) continue
    const text = info.size <= MAX_READ_BYTES ? await readFile(full, 'utf8').catch(() => '') : ''
    if (kind.holdsToken && info.size <= MAX_READ_BYTES && !kind.holdsToken.test(text)) continue
    hidden.push({ path: file, what: kind.what })
    secrets.push(...credentialValues(text, file))
  }
  return { hidden, secrets }
}

/** Key names whose values are credentials, in any of these files' syntaxes. */
const SECRET_KEY =
  /(?:token|secret|password|passwd|_auth|auth|private_key|key_data|apikey|api_key)/i

/**
 * The credential values a file holds: JSON string values under credential-like keys, and
 * `key = value` / `key: value` / netrc `password value` pairs. `${VAR}` placeholders are not
 * values.
 */
export function credentialValues(text: string, source: string): KnownSecret[] {
  const values = new Set<string>()
  const add = (value: string): void => {
    const trimmed = value.trim().replace(/^["']|["']$/g, '')
    // Placeholders (`${NPM_TOKEN}`) and addresses (`token_url`) are not credentials.
    if (
      trimmed.length >= 8 &&
      !/^\$\{?[A-Za-z_]/.test(trimmed) &&
      !/^[a-z]+:\/\/[^@]*$/i.test(trimmed)
    )
      values.add(trimmed)
  }
  try {
    walkJson(JSON.parse(text), '', add)
  } catch {
    // Not JSON: line-based formats.
  }
  // `key = value` (npmrc, pypirc, toml; npmrc keys hold colons) and `key: value` (YAML).
  for (const m of text.matchAll(/^[ \t]*([^=\s#;]+)[ \t]*=[ \t]*(.+?)[ \t]*$/gm)) {
    if (SECRET_KEY.test(m[1] ?? '')) add(m[2] ?? '')
  }
  for (const m of text.matchAll(/^[ \t]*"?([\w.-]+)"?[ \t]*:[ \t]*(.+?)[ \t]*$/gm)) {
    if (SECRET_KEY.test(m[1] ?? '')) add(m[2] ?? '')
  }
  for (const m of text.matchAll(/\bpassword\s+(\S+)/g)) add(m[1] ?? '')
  // Docker's "auth" is base64 of user:password.
  for (const m of text.matchAll(/"auth"\s*:\s*"([A-Za-z0-9+/=]+)"/g)) {
    const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon >= 0) add(decoded.slice(colon + 1))
  }
  return [...values].map(value => ({ value, source }))
}

function walkJson(node: unknown, key: string, add: (value: string) => void): void {
  if (typeof node === 'string') {
    if (SECRET_KEY.test(key)) add(node)
    // An Authorization header value inside a credential source.
    const bearer = /^(?:bearer|basic|token)\s+(\S+)$/i.exec(node)
    if (bearer) add(bearer[1] ?? '')
  } else if (Array.isArray(node)) {
    for (const item of node) walkJson(item, key, add)
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) walkJson(v, k, add)
  }
}
