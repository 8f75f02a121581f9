import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { RUN_LABEL } from '../constants.js'
import { docker, lastLines, type DockerResult } from '../docker.js'
import { ConfigurationError } from '../errors.js'

/** Runs the docker CLI with these arguments (injectable for tests). */
export type DockerRunner = (args: string[]) => Promise<DockerResult>

export interface DaemonVisibilityOptions {
  /** Labels the probe container like the agent's, so the post step removes it if we are killed. */
  runId?: string
  docker?: DockerRunner
}

/**
 * Fails with a ConfigurationError when the Docker daemon does not see `dir` as this process does.
 *
 * Bind mounts are resolved on the daemon's filesystem, not the client's. With a Docker-in-Docker
 * sidecar (a `docker:dind` service, DOCKER_HOST=tcp://docker:2375) the daemon has its own
 * filesystem: the run-private socket directory would be mounted as an empty or missing directory,
 * and the agent would fail later with a confusing "cannot reach the API". So a marker file is
 * written here and a throw-away container (no network, read-only) looks for it through the same
 * kind of mount the agent gets. About 0.4 s on an idle runner.
 */
export async function checkDaemonSeesDirectory(
  dir: string,
  image: string,
  options: DaemonVisibilityOptions = {}
): Promise<void> {
  const run = options.docker ?? ((args: string[]) => docker(args))
  const marker = `.daemon-visibility-${randomBytes(8).toString('hex')}`
  const markerPath = path.join(dir, marker)
  await writeFile(markerPath, '', { mode: 0o644 })
  let result: DockerResult
  try {
    result = await run([
      'run',
      '--rm',
      '--pull',
      'never',
      '--network',
      'none',
      '--log-driver',
      'none',
      '--read-only',
      // Root with only the right to traverse directories: the answer must not depend on the
      // directory's mode, only on whether the daemon sees it.
      '--user',
      '0:0',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'DAC_READ_SEARCH',
      '--security-opt',
      'no-new-privileges:true',
      ...(options.runId ? ['--label', `${RUN_LABEL}=${options.runId}`] : []),
      // --mount, not -v: -v would create the missing directory on the daemon's host as root.
      '--mount',
      `type=bind,src=${dir},dst=/probe,readonly`,
      '--entrypoint',
      'test',
      image,
      '-e',
      `/probe/${marker}`
    ])
  } finally {
    await rm(markerPath, { force: true })
  }
  if (result.exitCode === 0) return
  // 1: `test` ran and the mounted directory is not ours (another directory at the same path).
  // 125 with this message: the daemon has no such path at all.
  const missing = result.exitCode === 125 && /bind source path does not exist/i.test(result.stderr)
  if (result.exitCode === 1 || missing) {
    const where = missing ? 'does not exist' : 'is another, different directory'
    throw new ConfigurationError(
      `The Docker daemon does not see the runner's filesystem: on the daemon's side ${dir} ${where} ` +
        '(a Docker-in-Docker sidecar, or DOCKER_HOST on another machine?), so the sandbox cannot ' +
        "mount its sockets into the agent's container",
      "Share RUNNER_TEMP and the workspace with the daemon at the same paths: mount the runner's " +
        'work directory (which holds both, e.g. /runner/_work or /home/runner/work) into the ' +
        "Docker daemon's container at the identical path (with a docker:dind service or sidecar, " +
        "give both containers the same volume and mount path), or use the runner's own Docker engine"
    )
  }
  throw new Error(
    `Could not check that the Docker daemon sees ${dir} (docker run exited ${result.exitCode}: ${lastLines(result.stderr, 2) || 'no message'})`
  )
}
