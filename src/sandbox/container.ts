import { spawn } from 'node:child_process'
import { docker, lastLines } from '../docker.js'
import { RUN_LABEL } from '../constants.js'
import type { ContainerOutcome } from '../agent/result.js'

export interface RunContainerOptions {
  name: string
  args: string[]
  clientEnv: NodeJS.ProcessEnv
  /** Written to the container's standard input, then closed (the prompt). */
  stdin: string
  onStdout: (chunk: string) => void
  onStderrLine: (line: string) => void
  timeoutMs: number
  /** Aborted when the job is cancelled (SIGINT/SIGTERM to the action). */
  cancel: AbortSignal
  /** Seconds `docker stop` waits after SIGTERM before SIGKILL. */
  stopGraceSeconds?: number
}

/**
 * Runs the agent container attached, streaming its output, and stops it (SIGTERM, then SIGKILL
 * after a grace period) on timeout or cancellation. The container is not started with --rm so
 * that its state (exit code, OOM kill) can be read afterwards; it is always removed before this
 * returns.
 */
export async function runContainer(options: RunContainerOptions): Promise<ContainerOutcome> {
  let timedOut = false
  let cancelled = false
  let stopping: Promise<unknown> | undefined
  const grace = options.stopGraceSeconds ?? 5
  const stop = (): void => {
    stopping ??= docker(['stop', '--time', String(grace), options.name])
  }

  const stderrLines: string[] = []
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
      cancelled = true
      stop()
    }
    if (options.cancel.aborted) onCancel()
    options.cancel.addEventListener('abort', onCancel, { once: true })

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => options.onStdout(chunk))
    let pending = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        stderrLines.push(line)
        if (stderrLines.length > 50) stderrLines.shift()
        options.onStderrLine(line)
      }
    })
    child.on('error', error => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', code => {
      clearTimeout(timer)
      options.cancel.removeEventListener('abort', onCancel)
      if (pending !== '') stderrLines.push(pending)
      resolve(code ?? -1)
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.stdin)
  })
  if (stopping) await stopping

  const state = await docker([
    'inspect',
    '--format',
    '{{.State.OOMKilled}} {{.State.ExitCode}}',
    options.name
  ])
  const [oom, code] = state.stdout.trim().split(' ')
  await removeContainer(options.name)
  return {
    exitCode: code !== undefined && code !== '' ? Number(code) : exitCode,
    timedOut,
    cancelled,
    oomKilled: oom === 'true',
    stderrTail: lastLines(stderrLines.join('\n'), 3)
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
