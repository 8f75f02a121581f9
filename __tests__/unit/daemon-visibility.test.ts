import { describe, expect, it } from '@jest/globals'
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { checkDaemonSeesDirectory, type DockerRunner } from '../../src/sandbox/daemon-visibility.js'
import { ConfigurationError } from '../../src/errors.js'

// The real check against the real daemon (and a simulated Docker-in-Docker) is in
// __tests__/e2e/network.test.ts. Here a stand-in daemon reads this machine's filesystem through
// the mount it was asked for, so the arguments must really name the directory and the marker.

/** A daemon that resolves the bind mount against `root` (this filesystem by default). */
function fakeDaemon(options: { root?: string; fail?: { code: number; stderr: string } } = {}) {
  const calls: string[][] = []
  const run: DockerRunner = async args => {
    calls.push(args)
    if (options.fail)
      return { exitCode: options.fail.code, stdout: '', stderr: options.fail.stderr }
    const mount = args[args.indexOf('--mount') + 1] ?? ''
    const source = /(?:^|,)src=([^,]+)/.exec(mount)?.[1] ?? ''
    const daemonPath = path.join(options.root ?? '/', source)
    if (!existsSync(daemonPath)) {
      return {
        exitCode: 125,
        stdout: '',
        stderr: `docker: Error response from daemon: invalid mount config for type "bind": bind source path does not exist: ${source}\n`
      }
    }
    const probe = args[args.length - 1] ?? ''
    const found = existsSync(path.join(daemonPath, probe.replace(/^\/probe\//, '')))
    return { exitCode: found ? 0 : 1, stdout: '', stderr: '' }
  }
  return { run, calls }
}

describe('checkDaemonSeesDirectory', () => {
  it('passes when the daemon finds the marker, removes it, and runs a locked-down probe', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vis-unit-'))
    const daemon = fakeDaemon()
    await checkDaemonSeesDirectory(dir, 'img:tag', { docker: daemon.run, runId: 'r-1' })
    expect(readdirSync(dir)).toEqual([])
    const args = daemon.calls[0] ?? []
    expect(args.slice(0, 2)).toEqual(['run', '--rm'])
    expect(args.join(' ')).toContain('--network none')
    expect(args.join(' ')).toContain(`--mount type=bind,src=${dir},dst=/probe,readonly`)
    expect(args.join(' ')).toContain('--label org.claude-sandbox-action.run=r-1')
    expect(args.slice(-4, -2)).toEqual(['test', 'img:tag'])
  })

  it('explains Docker-in-Docker when the daemon sees another directory at that path', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vis-unit-'))
    // The daemon's filesystem: an empty directory tree where `dir` exists but is not ours.
    const daemonRoot = mkdtempSync(path.join(os.tmpdir(), 'vis-daemon-'))
    mkdirSync(path.join(daemonRoot, dir), { recursive: true })
    const error = await checkDaemonSeesDirectory(dir, 'img', {
      docker: fakeDaemon({ root: daemonRoot }).run
    }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).line).toMatch(
      /does not see the runner's filesystem: .* is another, different directory .*Docker-in-Docker.*RUNNER_TEMP/
    )
    expect(readdirSync(dir)).toEqual([])
  })

  it('explains Docker-in-Docker when the path does not exist for the daemon', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vis-unit-'))
    const daemonRoot = mkdtempSync(path.join(os.tmpdir(), 'vis-daemon-'))
    const error = await checkDaemonSeesDirectory(dir, 'img', {
      docker: fakeDaemon({ root: daemonRoot }).run
    }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).line).toMatch(/does not exist/)
    expect(readdirSync(dir)).toEqual([])
  })

  it('reports other docker failures as they are, not as Docker-in-Docker', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vis-unit-'))
    const error = await checkDaemonSeesDirectory(dir, 'img', {
      docker: fakeDaemon({
        fail: { code: 125, stderr: 'docker: Error response from daemon: No such image: img\n' }
      }).run
    }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toMatch(
      /exited 125: docker: Error response from daemon: No such image/
    )
    expect(readdirSync(dir)).toEqual([])
  })
})
