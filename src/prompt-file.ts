import { existsSync, lstatSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from './errors.js'
import { createGit } from './git/git.js'
import { isInside } from './inputs.js'

/**
 * Reads `prompt-file`. The prompt is the one trusted text the agent gets, so a pull request must
 * not be able to rewrite it or point it elsewhere:
 * - a file inside the repository is read from the commit — the pull request's base on pull
 *   request events, HEAD otherwise — never from the working tree, and never through a symlink
 *   (one pointing at /proc/self/environ would put the runner's secrets in the prompt);
 * - a file outside the repository (one an earlier step wrote to $RUNNER_TEMP, say) is read from
 *   disk, but not through a symlink either.
 */
export async function readPromptFile(
  workspace: string,
  promptFile: string,
  baseSha?: string
): Promise<string> {
  const file = path.isAbsolute(promptFile) ? promptFile : path.resolve(workspace, promptFile)
  const text = isInside(workspace, file)
    ? await readFromCommit(
        workspace,
        path.relative(workspace, file).split(path.sep).join('/'),
        baseSha ?? 'HEAD'
      )
    : readOutside(file)
  if (text.trim() === '') throw new ConfigurationError(`The prompt file ${promptFile} is empty`)
  return text
}

function readOutside(file: string): string {
  if (!existsSync(file)) {
    throw new ConfigurationError(
      `Input \`prompt-file\` names ${file}, which does not exist`,
      'Give a path relative to the repository (read from the commit), or an absolute one'
    )
  }
  if (lstatSync(file).isSymbolicLink()) {
    throw new ConfigurationError(
      `Input \`prompt-file\` names ${file}, a symbolic link`,
      'Give the file itself'
    )
  }
  return readFileSync(file, 'utf8')
}

async function readFromCommit(workspace: string, relative: string, rev: string): Promise<string> {
  const git = createGit(workspace)
  const listing = await git.tryRun(['ls-tree', '-z', rev, '--', relative])
  const entry = listing.stdout.toString('utf8').split('\0')[0] ?? ''
  const match = /^(\d{6}) (\w+) ([0-9a-f]+)\t/.exec(entry)
  const where =
    rev === 'HEAD' ? 'the checked-out commit' : `the pull request's base (${rev.slice(0, 12)})`
  if (listing.exitCode !== 0 || !match) {
    throw new ConfigurationError(
      `Input \`prompt-file\` names ${relative}, which is not in ${where}: a prompt file inside the repository is read from the commit, not the working tree`,
      'Commit the file to the base branch, or write a generated prompt outside the repository (e.g. $RUNNER_TEMP) and give its absolute path'
    )
  }
  if (match[1] === '120000' || match[2] !== 'blob') {
    throw new ConfigurationError(
      `Input \`prompt-file\` names ${relative}, which is ${match[1] === '120000' ? 'a symbolic link' : 'not a file'} in ${where}`,
      'Point it at a regular file'
    )
  }
  return (await git.run(['cat-file', 'blob', match[3] ?? ''])).stdout.toString('utf8')
}
