import { existsSync, lstatSync, statSync } from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { ConfigurationError } from '../errors.js'
import { IMAGE_USER } from '../constants.js'

export interface Owner {
  uid: number
  gid: number
}

/** The repository's .git (a directory, or a file for worktrees and submodules). */
export function requireGitPath(workspace: string): string {
  const gitPath = path.join(workspace, '.git')
  if (!existsSync(gitPath)) {
    throw new ConfigurationError(
      `${workspace} is not a git repository (no .git)`,
      'Check out the repository first with actions/checkout, or point `working-directory` at one'
    )
  }
  return gitPath
}

/**
 * The uid:gid the agent runs as: the runner's own, so files stay the runner's; where the runner
 * is root, the image's unprivileged user (never root: the CLI refuses to skip permissions as
 * root, and root would defeat the read-only .git).
 */
export function agentUser(): { user: Owner; lendWorkspace: boolean } {
  const uid = process.getuid?.() ?? IMAGE_USER.uid
  const gid = process.getgid?.() ?? IMAGE_USER.gid
  if (uid === 0) return { user: { uid: IMAGE_USER.uid, gid: IMAGE_USER.gid }, lendWorkspace: true }
  return { user: { uid, gid }, lendWorkspace: false }
}

function chownTree(workspace: string, owner: Owner): Promise<void> {
  // find + chown -h: never follows symlinks, and leaves .git (mounted read-only) as it is.
  return new Promise((resolve, reject) => {
    const child = spawn(
      'find',
      [
        workspace,
        '-path',
        path.join(workspace, '.git'),
        '-prune',
        '-o',
        '-exec',
        'chown',
        '-h',
        `${owner.uid}:${owner.gid}`,
        '{}',
        '+'
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] }
    )
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', code =>
      code === 0
        ? resolve()
        : reject(
            new Error(`chown of ${workspace} failed: ${stderr.trim().split('\n').pop() ?? ''}`)
          )
    )
  })
}

/** A root runner hands the working tree to the image's user for the run. Returns the old owner. */
export async function lendWorkspaceTo(workspace: string, user: Owner): Promise<Owner> {
  const stat = statSync(workspace)
  await chownTree(workspace, user)
  return { uid: stat.uid, gid: stat.gid }
}

/** Gives the working tree (including what the agent created) back to its owner. */
export async function returnWorkspace(workspace: string, owner: Owner): Promise<void> {
  if (!existsSync(workspace) || !lstatSync(workspace).isDirectory()) return
  await chownTree(workspace, owner)
}
