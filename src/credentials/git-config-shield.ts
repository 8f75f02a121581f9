import { copyFileSync, existsSync, lstatSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createGit, GitError, type Git } from '../git/git.js'
import type { KnownSecret } from '../secrets/scan.js'
import { findFormatSecrets, shannonEntropy } from '../secrets/scan.js'

/**
 * What the agent sees of the repository's git configuration: a sanitised copy, mounted
 * read-only in place of the real one. Steps before ours leave credentials there:
 * actions/checkout v4/v5 writes the job's token as `http.<url>.extraheader`, v6 an
 * `includeIf` to a file under RUNNER_TEMP, scripts put tokens in remote URLs and
 * `url.<base>.insteadOf`. The copy keeps everything else, so git works inside as before; the
 * host's own file is only read (later steps push with it).
 *
 * The copy is edited with host git itself (hardened: no system or global config), so it is
 * parsed exactly as git parses it: `git config --file COPY --list`, then `--unset-all`,
 * `--replace-all` and `--remove-section` with `--fixed-value`.
 */

/** A file the container gets read-only in place of what is at `target`. */
export interface Overlay {
  source: string
  /**
   * Inside the container: relative to the working tree (applied at /workspace and at the
   * repository's alias path), or an absolute path.
   */
  target: string
}

export interface GitConfigShield {
  /** Read-only mounts: the sanitised config files, and the git directory of a worktree. */
  overlays: Overlay[]
  /** Credential values found (for the secret scan); never printed. */
  secrets: KnownSecret[]
  /** What was removed, by key (never the value), for the log. */
  removed: string[]
}

interface Entry {
  key: string
  value: string
}

/** Extra headers git sends: `Authorization: basic <base64 user:token>` or `bearer <token>`. */
function headerSecrets(value: string, source: string): KnownSecret[] {
  const secrets: KnownSecret[] = [{ value, source }]
  const auth = /authorization:\s*(basic|bearer|token)\s+(\S+)/i.exec(value)
  if (auth) {
    const credential = auth[2] as string
    secrets.push({ value: credential, source })
    if (auth[1]?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credential, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon >= 0) secrets.push({ value: decoded.slice(colon + 1), source })
    }
  }
  return secrets
}

const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i

/** A URL without its user:password part, and the secret in it; undefined when it has none. */
export function stripUserinfo(url: string): { url: string; secret?: string } | undefined {
  const m = URL_USERINFO.exec(url)
  if (!m) return undefined
  const scheme = (m[1] as string).toLowerCase()
  const userinfo = m[2] as string
  const colon = userinfo.indexOf(':')
  const password = colon >= 0 ? userinfo.slice(colon + 1) : ''
  // ssh://git@host has a user name and no secret; an http(s) user name is a token's place.
  if (!password && !scheme.startsWith('http')) return undefined
  const user = decodeURIComponentSafe(colon >= 0 ? userinfo.slice(0, colon) : userinfo)
  // A password is a secret; a user name only when it looks like a token (`https://TOKEN@host`),
  // not a name such as `github-actions`, which would make every mention of it a finding.
  const secret = password ? decodeURIComponentSafe(password) : looksLikeToken(user) ? user : ''
  return { url: `${m[1]}${url.slice(m[0].length)}`, ...(secret ? { secret } : {}) }
}

function looksLikeToken(text: string): boolean {
  return (text.length >= 20 && shannonEntropy(text) >= 3.5) || findFormatSecrets(text).length > 0
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** section, subsection (may be undefined) and name of a `--list` key. */
function splitKey(key: string): { section: string; subsection?: string; name: string } {
  const first = key.indexOf('.')
  const last = key.lastIndexOf('.')
  if (first === last) return { section: key.slice(0, first), name: key.slice(last + 1) }
  return {
    section: key.slice(0, first),
    subsection: key.slice(first + 1, last),
    name: key.slice(last + 1)
  }
}

function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file)
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))
}

async function listEntries(git: Git, file: string): Promise<Entry[]> {
  const result = await git.run(['config', '--file', file, '--no-includes', '--list', '-z'])
  return result.stdout
    .toString('utf8')
    .split('\0')
    .filter(record => record !== '')
    .map(record => {
      const newline = record.indexOf('\n')
      return newline < 0
        ? { key: record, value: '' }
        : { key: record.slice(0, newline), value: record.slice(newline + 1) }
    })
}

export interface SanitiseOptions {
  /** Directories an `include` may point into and stay (the repository's git dir and tree). */
  inside: string[]
  /** Drop `core.worktree` (a `.git` file's repository: the worktree is where the file is). */
  dropWorktree?: boolean
  /** Where a relative include path is resolved from (the config file's directory). */
  configDir: string
  /** Label for the secrets found (`.git/config`). */
  label: string
}

/**
 * Edits the config file at `copy` in place (a copy: never the repository's own) so it carries
 * no credential. Returns what was removed and the values found.
 */
export async function sanitiseGitConfig(
  git: Git,
  copy: string,
  options: SanitiseOptions
): Promise<{ secrets: KnownSecret[]; removed: string[] }> {
  const secrets: KnownSecret[] = []
  const removed: string[] = []
  const sections = new Set<string>()
  const unset: Entry[] = []
  const replace: Array<Entry & { next: string }> = []
  const entries = await listEntries(git, copy)
  for (const entry of entries) {
    const { key, value } = entry
    const { section, subsection, name } = splitKey(key)
    // A section whose name holds a user:token URL (`url.<base>.insteadOf`, `http.<url>.*`).
    const named = subsection === undefined ? undefined : stripUserinfo(subsection)
    if (named) {
      sections.add(`${section}.${subsection}`)
      if (named.secret) secrets.push({ value: named.secret, source: options.label })
      continue
    }
    if (section === 'http' && name === 'extraheader') {
      unset.push(entry)
      secrets.push(...headerSecrets(value, options.label))
      continue
    }
    if (section === 'credential') {
      unset.push(entry)
      continue
    }
    if ((section === 'include' || section === 'includeif') && name === 'path') {
      const target = resolveInclude(value, options.configDir)
      if (!options.inside.some(dir => isInside(dir, target))) {
        unset.push(entry)
        secrets.push(...(await includedSecrets(git, target, options.label)))
        continue
      }
    }
    if (options.dropWorktree && key === 'core.worktree') {
      unset.push(entry)
      continue
    }
    const url = stripUserinfo(value)
    if (url) {
      replace.push({ ...entry, next: url.url })
      if (url.secret) secrets.push({ value: url.secret, source: options.label })
      continue
    }
    // Any other value in a well-known secret format (`[deploy] token = ghp_…`).
    if (findFormatSecrets(value).length > 0) {
      unset.push(entry)
      secrets.push({ value, source: options.label })
    }
  }
  for (const section of sections) {
    await git.run(['config', '--file', copy, '--remove-section', section])
    removed.push(`[${section.replace(/(\/\/)[^/@\s]*@/, '$1***@')}]`)
  }
  for (const entry of unset) {
    if (sections.has(entry.key.slice(0, entry.key.lastIndexOf('.')))) continue
    await git.run(
      ['config', '--file', copy, '--fixed-value', '--unset-all', entry.key, entry.value],
      { okExitCodes: [5] } // already gone with an earlier identical entry
    )
    removed.push(entry.key)
  }
  for (const entry of replace) {
    await git.run(
      [
        'config',
        '--file',
        copy,
        '--fixed-value',
        '--replace-all',
        entry.key,
        entry.next,
        entry.value
      ],
      { okExitCodes: [5] }
    )
    removed.push(`${entry.key} (user:token part)`)
  }
  return { secrets, removed: [...new Set(removed)] }
}

function resolveInclude(value: string, configDir: string): string {
  const expanded = value.startsWith('~/') ? path.join(os.homedir(), value.slice(2)) : value
  return path.resolve(configDir, expanded)
}

/** Credentials in a file an include points to outside the repository (checkout v6's). */
async function includedSecrets(git: Git, file: string, label: string): Promise<KnownSecret[]> {
  try {
    if (!statSync(file).isFile()) return []
    const secrets: KnownSecret[] = []
    for (const { key, value } of await listEntries(git, file)) {
      const { section, name } = splitKey(key)
      if (section === 'http' && name === 'extraheader') secrets.push(...headerSecrets(value, label))
      const url = stripUserinfo(value)
      if (url?.secret) secrets.push({ value: url.secret, source: label })
    }
    return secrets
  } catch {
    return [] // unreadable or not a config file: nothing to learn, and it is dropped anyway
  }
}

/** Where a `.git` file points: its git dir and the common dir holding the config. */
export interface GitFileTarget {
  /** As written after `gitdir:`. */
  spec: string
  gitDir: string
  commonDir: string
}

export function readGitFile(gitPath: string): GitFileTarget {
  const text = readFileSync(gitPath, 'utf8')
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(text)
  if (!m) throw new Error(`${gitPath} is a file but does not say where its git directory is`)
  const spec = m[1] as string
  const gitDir = path.resolve(path.dirname(gitPath), spec)
  const commonFile = path.join(gitDir, 'commondir')
  const commonDir = existsSync(commonFile)
    ? path.resolve(gitDir, readFileSync(commonFile, 'utf8').trim())
    : gitDir
  return { spec, gitDir, commonDir }
}

/**
 * Writes the sanitised copies into `privateDir` and says where the container gets them.
 * `gitPath` is the working tree's `.git`: a directory, or a file (worktrees, submodules).
 */
export async function shieldGitConfig(
  workspace: string,
  gitPath: string,
  privateDir: string
): Promise<GitConfigShield> {
  const git = createGit(workspace)
  const overlays: Overlay[] = []
  const secrets: KnownSecret[] = []
  const removed: string[] = []
  let counter = 0
  const sanitiseInto = async (
    original: string,
    targets: string[],
    options: Omit<SanitiseOptions, 'configDir'>
  ): Promise<void> => {
    if (!existsSync(original) || !lstatSync(original).isFile()) return
    const copy = path.join(privateDir, `gitconfig-${counter++}`)
    copyFileSync(original, copy)
    try {
      const found = await sanitiseGitConfig(git, copy, {
        ...options,
        configDir: path.dirname(original)
      })
      secrets.push(...found.secrets)
      removed.push(...found.removed)
    } catch (error: unknown) {
      if (!(error instanceof GitError)) throw error
      // git cannot parse it: the agent gets an empty config rather than the original.
      copyFileSync('/dev/null', copy)
      removed.push(`everything (git could not read ${original}: ${error.message})`)
    }
    for (const target of targets) overlays.push({ source: copy, target })
  }

  if (lstatSync(gitPath).isDirectory()) {
    await sanitiseInto(path.join(gitPath, 'config'), ['.git/config'], {
      inside: [gitPath, workspace],
      label: '.git/config'
    })
    await sanitiseInto(path.join(gitPath, 'config.worktree'), ['.git/config.worktree'], {
      inside: [gitPath, workspace],
      label: '.git/config.worktree'
    })
    return { overlays, secrets, removed }
  }

  // A `.git` file: the git directory lives elsewhere. It is mounted read-only where the file's
  // path leads inside the container (the host path for an absolute one; from /workspace for a
  // relative one, and the host path too for the repository's alias), with its config sanitised.
  const target = readGitFile(gitPath)
  const places = (hostDir: string): string[] => {
    const list = new Set<string>([hostDir])
    if (!path.isAbsolute(target.spec)) {
      list.add(path.resolve('/workspace', path.relative(workspace, hostDir)))
    }
    return [...list]
  }
  for (const place of places(target.commonDir))
    overlays.push({ source: target.commonDir, target: place })
  if (!isInside(target.commonDir, target.gitDir)) {
    for (const place of places(target.gitDir))
      overlays.push({ source: target.gitDir, target: place })
  }
  const inside = [target.commonDir, target.gitDir, workspace]
  await sanitiseInto(
    path.join(target.commonDir, 'config'),
    places(target.commonDir).map(dir => path.join(dir, 'config')),
    { inside, dropWorktree: target.commonDir === target.gitDir, label: '.git/config' }
  )
  await sanitiseInto(
    path.join(target.gitDir, 'config.worktree'),
    places(target.gitDir).map(dir => path.join(dir, 'config.worktree')),
    { inside, dropWorktree: true, label: '.git/config.worktree' }
  )
  return { overlays, secrets, removed }
}
