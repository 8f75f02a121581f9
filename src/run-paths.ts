import { chmodSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'

/** Where one run keeps its files. */
export interface RunPaths {
  runId: string
  /** Kept after the run: the patch, the transcript, the gateway and network logs. */
  outDir: string
  patchPath: string
  executionFile: string
  gatewayLog: string
  networkLog: string
  /** Removed after the run: sockets, build context. */
  workDir: string
  /** Holds only the gateway and proxy sockets (and a public CA bundle); mounted read-only. */
  socketDir: string
}

export function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}

export function createRunPaths(runId: string, env: NodeJS.ProcessEnv = process.env): RunPaths {
  const root = path.join(env.RUNNER_TEMP || os.tmpdir(), 'claude-sandbox')
  const outDir = path.join(root, runId)
  const workDir = path.join(root, `${runId}.work`)
  const socketDir = path.join(workDir, 'sockets')
  mkdirSync(outDir, { recursive: true })
  mkdirSync(socketDir, { recursive: true })
  chmodSync(workDir, 0o711)
  // Traversable but not listable by other users: an unprivileged container uid must reach the
  // sockets by name; nothing else lives here.
  chmodSync(socketDir, 0o711)
  return {
    runId,
    outDir,
    patchPath: path.join(outDir, 'claude.patch'),
    executionFile: path.join(outDir, 'claude-execution.jsonl'),
    gatewayLog: path.join(outDir, 'gateway.log'),
    networkLog: path.join(outDir, 'network.log'),
    workDir,
    socketDir
  }
}
