/**
 * A local container registry for tests: Debian's `docker-registry` (distribution 2.8), started
 * per test with a config of its own (filesystem storage in a temp directory, loopback address,
 * no auth). Docker pushes and pulls `127.0.0.1:PORT/NAME` over plain HTTP without any daemon
 * setting (loopback is an insecure registry by default), and buildx's `imagetools` reads it.
 * It stands in for Docker Hub (base images resolved by digest) and for ghcr (prebuilt images
 * pulled by digest), and can be stopped and started again on the same port and storage: a
 * registry that goes down and comes back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface LocalRegistry {
  /** `127.0.0.1:PORT`: the host part of image references (`${host}/name:tag`). */
  host: string
  port: number
  /** Storage directory (kept across stop/start). */
  dir: string
  /** Whether the registry process is running. */
  readonly running: boolean
  /** Stops the process (the port refuses connections); storage is kept. */
  stop(): Promise<void>
  /** Starts it again on the same port with the same storage. */
  start(): Promise<void>
  /** Stops it and deletes its storage. */
  close(): Promise<void>
}

/** A free loopback port (listen on 0, read it, close). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Whether `GET /v2/` answers 200 (the registry's API root, no auth). */
function answers(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const request = http.get({ host: '127.0.0.1', port, path: '/v2/', timeout: 1000 }, res => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    request.on('timeout', () => request.destroy())
    request.on('error', () => resolve(false))
  })
}

function registryConfig(dir: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    ''
  ].join('\n')
}

/** Starts a registry on a free loopback port; resolves once it answers (at most 20 s). */
export async function startRegistry(): Promise<LocalRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-registry-'))
  const port = await freePort()
  const config = path.join(dir, 'config.yml')
  writeFileSync(config, registryConfig(dir, port))
  let child: ChildProcess | undefined
  let log = ''

  async function start(): Promise<void> {
    if (child) return
    log = ''
    const started = spawn('docker-registry', ['serve', config], {
      stdio: ['ignore', 'ignore', 'pipe']
    })
    started.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
    started.on('exit', () => {
      if (child === started) child = undefined
    })
    child = started
    const deadline = Date.now() + 20_000
    while (!(await answers(port))) {
      if (child !== started) throw new Error(`docker-registry exited at start: ${log.trim()}`)
      if (Date.now() > deadline) {
        started.kill('SIGKILL')
        throw new Error(`docker-registry did not answer on 127.0.0.1:${port}: ${log.trim()}`)
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  async function stop(): Promise<void> {
    const running = child
    if (!running) return
    const exited = new Promise<void>(resolve => running.once('exit', () => resolve()))
    running.kill('SIGTERM')
    const timer = setTimeout(() => running.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
    child = undefined
  }

  await start()
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    get running() {
      return child !== undefined
    },
    stop,
    start,
    async close() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Pushes a local image to `target` (`host/name:tag`) and returns the manifest digest the
 * registry stored it under (what `name@sha256:…` pulls). The local tag is removed again, so the
 * daemon keeps only what it had.
 */
export function pushImage(localRef: string, target: string): string {
  const run = (...args: string[]): string => {
    const result = spawnSync('docker', args, { encoding: 'utf8' })
    if (result.status !== 0)
      throw new Error(`docker ${args.join(' ')} failed: ${result.stderr.trim()}`)
    return result.stdout
  }
  run('tag', localRef, target)
  try {
    const output = run('push', target)
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1]
    if (!digest) throw new Error(`docker push did not name a digest: ${output.trim()}`)
    return digest
  } finally {
    run('rmi', '--no-prune', target)
  }
}
