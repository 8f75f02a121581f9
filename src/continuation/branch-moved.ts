/**
 * When the branch moved since the saved session (someone pushed), what the resumed agent is told
 * before the new prompt: the new commits' subjects and the files they touched. Read with the
 * hardened host git (src/git/git.ts). Subjects and paths are written by whoever pushed, so they
 * reach the agent as untrusted data, like the event's texts.
 */
import { createGit, type Git } from '../git/git.js'
import { wrapUntrusted } from '../triggers/sanitize.js'

/** At most this many commits are listed, and this many files per commit. */
const MAX_COMMITS = 30
const MAX_FILES = 30

export interface NewCommit {
  sha: string
  subject: string
  files: string[]
}

export type BranchMove =
  | { moved: false }
  | { moved: true; from: string; to: string; commits: NewCommit[]; more: number }
  /** The saved head is not in this checkout (a shallow clone, or history rewritten). */
  | { moved: true; from: string; to: string; unknownHistory: true }

export async function branchMoveSince(
  workspace: string,
  savedHead: string | undefined,
  git: Git = createGit(workspace)
): Promise<BranchMove> {
  const head = (await git.tryRun(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).stdout
    .toString('utf8')
    .trim()
  if (!savedHead || !/^[0-9a-f]{40,64}$/.test(savedHead) || head === '' || head === savedHead) {
    return { moved: false }
  }
  const known = await git.tryRun(['cat-file', '-e', `${savedHead}^{commit}`])
  const ancestor =
    known.exitCode === 0
      ? (await git.tryRun(['merge-base', '--is-ancestor', savedHead, head])).exitCode === 0
      : false
  if (!ancestor) return { moved: true, from: savedHead, to: head, unknownHistory: true }
  const count = Number(await git.text(['rev-list', '--count', `${savedHead}..${head}`]))
  // One record per commit: NUL, sha, NUL, subject, then the file names one a line.
  const log = await git.text([
    'log',
    '--no-renames',
    '--no-color',
    `--max-count=${MAX_COMMITS}`,
    '--format=%x00%H%x00%s',
    '--name-only',
    `${savedHead}..${head}`
  ])
  // Fields alternate after the first NUL: sha, then "subject\n\nfile\nfile\n".
  const fields = log.split('\0').slice(1)
  const commits: NewCommit[] = []
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [subject = '', ...files] = (fields[i + 1] ?? '').split('\n')
    commits.push({ sha: fields[i] ?? '', subject, files: files.filter(Boolean) })
  }
  return { moved: true, from: savedHead, to: head, commits, more: count - commits.length }
}

/** The note put before the new prompt, or '' when the branch did not move. */
export function branchMoveNote(move: BranchMove): string {
  if (!move.moved) return ''
  const short = (sha: string): string => sha.slice(0, 12)
  const intro =
    `Since your last run in this conversation the branch moved from ${short(move.from)} to ` +
    `${short(move.to)}: someone pushed. The working tree at /workspace is the new state; ` +
    'files you read or changed before may be different now, so read them again before relying on them.'
  if ('unknownHistory' in move) {
    return `${intro} The earlier commit is not in this checkout, so the new commits cannot be listed.`
  }
  const lines = move.commits.map(commit => {
    const files = commit.files.slice(0, MAX_FILES)
    const more = commit.files.length - files.length
    return [
      `- ${short(commit.sha)} ${commit.subject}`,
      ...files.map(file => `    ${file}`),
      ...(more > 0 ? [`    … and ${more} more files`] : [])
    ].join('\n')
  })
  if (move.more > 0) lines.push(`- … and ${move.more} older commits`)
  return `${intro} The new commits, newest first, with the files each changed:\n\n${wrapUntrusted(
    'new commits on the branch (subjects and paths written by whoever pushed)',
    lines.join('\n')
  )}`
}
