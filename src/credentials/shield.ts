import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { KnownSecret } from '../secrets/scan.js'
import { findCredentialFiles, type HiddenFile } from './credential-files.js'
import { shieldGitConfig, type Overlay } from './git-config-shield.js'

export type { Overlay } from './git-config-shield.js'
export type { HiddenFile } from './credential-files.js'

/**
 * The credential shield: everything the container gets in place of a credential the working
 * tree holds (a sanitised git config, empty files over credential files), and the values it
 * found, for the secret scan. Built before the container starts, from the host's files, which
 * it only reads.
 */
export interface CredentialShield {
  /** Read-only mounts, over the working tree (relative targets) or at absolute paths. */
  overlays: Overlay[]
  /** Credential files the agent sees empty; never in the patch. */
  hiddenFiles: HiddenFile[]
  /** What was taken out of the git config (keys, never values). */
  gitConfigRemoved: string[]
  secrets: KnownSecret[]
}

export interface ShieldLog {
  info(message: string): void
}

export async function shieldCredentials(
  workspace: string,
  gitPath: string,
  workDir: string,
  log: ShieldLog
): Promise<CredentialShield> {
  const dir = path.join(workDir, 'credential-shield')
  mkdirSync(dir, { recursive: true })
  // Traversable by the container's user, not listable; the copies are readable, not writable.
  chmodSync(dir, 0o711)
  const gitConfig = await shieldGitConfig(workspace, gitPath, dir)
  const files = await findCredentialFiles(workspace)
  const overlays = [...gitConfig.overlays]
  if (files.hidden.length > 0) {
    const empty = path.join(dir, 'empty')
    writeFileSync(empty, '', { mode: 0o444 })
    chmodSync(empty, 0o444)
    for (const file of files.hidden) overlays.push({ source: empty, target: file.path })
  }
  for (const overlay of gitConfig.overlays) {
    if (overlay.source.startsWith(dir)) chmodSync(overlay.source, 0o444)
  }
  if (gitConfig.removed.length > 0) {
    log.info(
      `The agent sees the git config without its credentials (removed: ${gitConfig.removed.join(', ')}); the repository's own config is unchanged`
    )
  }
  if (files.hidden.length > 0) {
    log.info(
      `Hidden from the agent and kept out of the patch (credential files): ${files.hidden
        .map(file => `${file.path} (${file.what})`)
        .join(', ')}`
    )
  }
  return {
    overlays,
    hiddenFiles: files.hidden,
    gitConfigRemoved: gitConfig.removed,
    secrets: [...gitConfig.secrets, ...files.secrets]
  }
}
