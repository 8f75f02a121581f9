import { readFileSync } from 'node:fs'
import { docker } from '../docker.js'
import { engineGet, field } from '../docker-engine.js'

/**
 * When the Docker daemon goes away mid-run (stopped, restarted, killed), the attached `docker run`
 * client ends, but a container whose daemon was killed keeps running under its containerd shim,
 * out of reach of every docker command. These helpers notice that case and stop what is left.
 */

/** The container's init process on this host, learnt while the daemon still answered. */
export interface ContainerProcess {
  /** Full container id: the process's cgroup path names it, which is how it is recognised. */
  id: string
  pid: number
}

/**
 * Asks the daemon for the container's id and init pid once it runs. Bounded: a few tries, spaced
 * out, and no more once `ended()` says the client is gone.
 */
export async function findContainerProcess(
  name: string,
  ended: () => boolean,
  tries = 20
): Promise<ContainerProcess | undefined> {
  for (let attempt = 0; attempt < tries && !ended(); attempt++) {
    await new Promise(resolve => setTimeout(resolve, Math.min(250 * (attempt + 1), 2000)))
    if (ended()) return undefined
    const found = await inspectProcess(name)
    if (found) return found
  }
  return undefined
}

/**
 * The container's id and init pid: from the local socket when it is ours (no process spawned
 * while the CLI starts beside us), else from the CLI.
 */
async function inspectProcess(name: string): Promise<ContainerProcess | undefined> {
  const answer = await engineGet(`/containers/${encodeURIComponent(name)}/json`)
  if (answer) {
    const id = field(answer.body, 'Id', 'string')
    const state =
      typeof answer.body === 'object' && answer.body !== null
        ? (answer.body as { State?: unknown }).State
        : undefined
    const pid = field(state, 'Pid', 'number')
    return answer.status === 200 && id && pid !== undefined && pid > 0 ? { id, pid } : undefined
  }
  const result = await docker(['inspect', '--format', '{{.Id}} {{.State.Pid}}', name])
  const [id, pid] = result.stdout.trim().split(' ')
  return result.exitCode === 0 && id && Number(pid) > 0 ? { id, pid: Number(pid) } : undefined
}

/** Whether a Docker daemon answers on the client's configured endpoint. */
export async function daemonAnswers(): Promise<boolean> {
  const result = await docker(['version', '--format', '{{.Server.Version}}'])
  return result.exitCode === 0 && result.stdout.trim() !== ''
}

/** What the attached client prints when its connection to the daemon breaks. */
export function clientLostDaemon(stderr: string): boolean {
  return /error waiting for container|Cannot connect to the Docker daemon/i.test(stderr)
}

export type OrphanResult = 'killed' | 'not-running' | 'denied'

/**
 * Kills the container's init (SIGKILL to a PID namespace's init ends every process in it), but
 * only after checking that the pid still is that container's: its cgroup path must name the
 * container id, so a reused pid, or a pid from another namespace, is never signalled.
 */
export function killOrphan(container: ContainerProcess): OrphanResult {
  let cgroup: string
  try {
    cgroup = readFileSync(`/proc/${container.pid}/cgroup`, 'utf8')
  } catch {
    return 'not-running'
  }
  if (!cgroup.includes(container.id)) return 'not-running'
  try {
    process.kill(container.pid, 'SIGKILL')
    return 'killed'
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'not-running' : 'denied'
  }
}

/** The one sentence the run ends with; `detail` is the client's last line (its logrus `msg`). */
export function daemonLostMessage(orphan: OrphanResult | undefined, clientLine: string): string {
  const detail = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(clientLine)?.[1] ?? clientLine
  const left =
    orphan === 'denied'
      ? ' Its container could not be stopped from here and may still run: restart dockerd, which stops it.'
      : orphan === 'killed'
        ? ' Its container, left running without a daemon, was killed.'
        : ''
  return `The Docker daemon went away during the run${detail ? ` (${detail})` : ''}; the agent was stopped and its partial work kept.${left} Check the daemon's health (\`systemctl status docker\`, \`journalctl -u docker\`) and run again`
}
