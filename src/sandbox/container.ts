import { spawn } from 'node:child_process'
import { BoundedLineSplitter, formatBytes, type BoundedLine } from '../bounded-lines.js'
import { docker, lastLines } from '../docker.js'
import { RUN_LABEL } from '../constants.js'
import type { ContainerOutcome } from '../agent/result.js'
import {
  clientLostDaemon,
  daemonAnswers,
  daemonLostMessage,
  findContainerProcess,
  killOrphan,
  type ContainerProcess
} from './daemon-loss.js'

export interface RunContainerOptions {
  name: string
  args: string[]
  clientEnv: NodeJS.ProcessEnv
  /** Written to the container's standard input, then closed (the prompt). */
  stdin: string
  /** The container's stdout as it comes, in raw chunks (the reader bounds what it keeps). */
  onStdout: (chunk: Buffer) => void
  /** Each stderr line; a line over STDERR_LIMITS.maxLineBytes arrives cut, with its size. */
  onStderrLine: (line: string) => void
  timeoutMs: number
  /**
   * Aborted to stop the agent. Aborted with an AgentStop (the disk guard), the outcome says why
   * in `stopReason`; aborted otherwise (SIGINT/SIGTERM to the action), it is `cancelled`.
   */
  cancel: AbortSignal
  /** Seconds `docker stop` waits after SIGTERM before SIGKILL. */
  stopGraceSeconds?: number
}

/** Why the host stopped the agent, given as an abort reason: it becomes the run's error. */
export class AgentStop extends Error {
  override name = 'AgentStop'
}

/** stderr is the CLI's own diagnostics: short lines, few of them. Anything more is cut or counted. */
export const STDERR_LIMITS = { maxLineBytes: 64 * 1024, keepBytes: 1024, maxLoggedLines: 1000 }
/** Lines kept for the error message; each shortened to this many characters. */
const TAIL_LINES = 50
const TAIL_LINE_CHARS = 500

/**
 * Runs the agent container attached, streaming its output, and stops it (SIGTERM, then SIGKILL
 * after a grace period) on timeout or cancellation. The container is not started with --rm so
 * that its state (exit code, OOM kill) can be read afterwards; it is always removed before this
 * returns. If the Docker daemon goes away meanwhile, the outcome says so (stopReason) and a
 * container left running without its daemon is killed.
 */
export async function runContainer(options: RunContainerOptions): Promise<ContainerOutcome> {
  let timedOut = false
  let cancelled = false
  let stopReason: string | undefined
  let stopping: Promise<unknown> | undefined
  let ended = false
  const grace = options.stopGraceSeconds ?? 5
  const stop = (): void => {
    stopping ??= docker(['stop', '--time', String(grace), options.name])
  }

  const stderr = new StderrLines(options.onStderrLine)
  let processFound: Promise<ContainerProcess | undefined> = Promise.resolve(undefined)
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn('docker', options.args, {
      env: options.clientEnv,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const timer = setTimeout(() => {
      timedOut = true
      stop()
    }, options.timeoutMs)
    const onCancel = (): void => {
      const reason: unknown = options.cancel.reason
      if (reason instanceof AgentStop) stopReason = reason.message
      else cancelled = true
      stop()
    }
    if (options.cancel.aborted) onCancel()
    options.cancel.addEventListener('abort', onCancel, { once: true })

    child.stdout.on('data', (chunk: Buffer) => options.onStdout(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', error => {
      ended = true
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', code => {
      ended = true
      clearTimeout(timer)
      options.cancel.removeEventListener('abort', onCancel)
      stderr.end()
      resolve(code ?? -1)
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.stdin)
    // Learnt while the daemon answers, so the container can still be stopped if it goes away.
    processFound = findContainerProcess(options.name, () => ended).catch(() => undefined)
  })
  if (stopping) await stopping

  const state = await docker([
    'inspect',
    '--format',
    '{{.State.OOMKilled}} {{.State.ExitCode}}',
    options.name
  ])
  stderr.logSuppressed()
  const stderrText = stderr.tail.join('\n')
  const stderrTail = lastLines(stderrText, 3)
  // The client's own word (exit 125, its last line) covers a daemon that is already back; the
  // container's stderr shares the pipe, so a line alone, without the client's exit code, is not
  // taken for it.
  const lastLine = lastLines(stderrText, 1)
  const clientSaysLost = exitCode === 125 && clientLostDaemon(lastLine)
  const lost = clientSaysLost || (state.exitCode !== 0 && !(await daemonAnswers()))
  if (lost) {
    const found = await processFound
    const orphan = found ? killOrphan(found) : undefined
    stopReason = daemonLostMessage(orphan, clientSaysLost ? lastLine : '')
  }
  const [oom, code] = state.stdout.trim().split(' ')
  // A daemon that is gone cannot remove it; one that came back can, and the post step retries.
  await removeContainer(options.name)
  return {
    exitCode: !lost && code !== undefined && code !== '' ? Number(code) : exitCode,
    timedOut,
    cancelled,
    oomKilled: !lost && oom === 'true',
    stderrTail,
    ...(stopReason !== undefined ? { stopReason } : {})
  }
}

/**
 * The container's stderr, split into bounded lines: each is logged (up to maxLoggedLines; the
 * rest are counted), and the last few are kept, shortened, for the error message.
 */
class StderrLines {
  readonly tail: string[] = []
  private logged = 0
  private readonly splitter: BoundedLineSplitter

  constructor(private readonly onLine: (line: string) => void) {
    this.splitter = new BoundedLineSplitter(line => this.take(line), STDERR_LIMITS)
  }

  push(chunk: Buffer): void {
    this.splitter.push(chunk)
  }

  end(): void {
    this.splitter.end()
  }

  private take(line: BoundedLine): void {
    const text = line.cut
      ? `${line.head.toString('utf8').slice(0, 200)}… …${line.tail?.toString('utf8').slice(-100) ?? ''} (a line of ${formatBytes(line.bytes)}, cut)`
      : line.head.toString('utf8')
    this.tail.push(text.length > TAIL_LINE_CHARS ? `${text.slice(0, TAIL_LINE_CHARS)}…` : text)
    if (this.tail.length > TAIL_LINES) this.tail.shift()
    this.logged++
    if (this.logged <= STDERR_LIMITS.maxLoggedLines) this.onLine(text)
    else if (this.logged === STDERR_LIMITS.maxLoggedLines + 1)
      this.onLine('(more stderr lines follow; they are counted, not shown)')
  }

  logSuppressed(): void {
    if (this.logged > STDERR_LIMITS.maxLoggedLines)
      this.onLine(`(${this.logged} stderr lines in all, ${STDERR_LIMITS.maxLoggedLines} shown)`)
  }
}

export async function removeContainer(name: string): Promise<void> {
  await docker(['rm', '--force', '--volumes', name])
}

/** Removes every container this run (or, with no id, any run) left behind. Returns their names. */
export async function removeRunContainers(runId?: string): Promise<string[]> {
  const filter = runId ? `label=${RUN_LABEL}=${runId}` : `label=${RUN_LABEL}`
  const list = await docker([
    'ps',
    '--all',
    '--quiet',
    '--filter',
    filter,
    '--format',
    '{{.Names}}'
  ])
  const names = list.stdout
    .split('\n')
    .map(n => n.trim())
    .filter(Boolean)
  for (const name of names) await removeContainer(name)
  return names
}
