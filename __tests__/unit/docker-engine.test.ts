import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { engineGet, engineSocket, field } from '../../src/docker-engine.js'
import { inspectImage } from '../../src/docker.js'

/** A stand-in engine on a Unix socket: answers what the table says, and records the paths asked. */
function startEngine(socketPath: string, asked: string[]): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    asked.push(request.url ?? '')
    if (request.url === '/version') {
      response.writeHead(200, { 'Content-Type': 'application/json' })
      response.end(JSON.stringify({ Version: '28.2.2', ApiVersion: '1.50' }))
    } else if (request.url === '/images/claude-sandbox/debian:bookworm-slim/json') {
      response.writeHead(200, { 'Content-Type': 'application/json' })
      response.end(JSON.stringify({ Id: 'sha256:' + 'a'.repeat(64) }))
    } else if (
      request.url ===
      '/images/registry.example.com/team/agent@sha256:' + 'b'.repeat(64) + '/json'
    ) {
      response.writeHead(200, { 'Content-Type': 'application/json' })
      response.end(
        JSON.stringify({
          Id: 'sha256:' + 'c'.repeat(64),
          Config: {
            Env: ['PATH=/opt/bin:/usr/bin', 7],
            Labels: { 'org.claude-sandbox-action.cli-mount': '/usr/local/bin/claude', n: 1 }
          }
        })
      )
    } else if (request.url === '/containers/broken/json') {
      response.writeHead(500, { 'Content-Type': 'text/plain' })
      response.end('not json at all')
    } else {
      response.writeHead(404, { 'Content-Type': 'application/json' })
      response.end(JSON.stringify({ message: 'No such image' }))
    }
  })
  return new Promise(resolve => server.listen(socketPath, () => resolve(server)))
}

describe('the Docker Engine API on the local socket', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'engine-'))
  const socketPath = path.join(dir, 'docker.sock')
  const home = path.join(dir, 'home')
  mkdirSync(home)
  const env = { DOCKER_HOST: `unix://${socketPath}`, HOME: home }
  const asked: string[] = []
  let server: http.Server

  beforeAll(async () => {
    server = await startEngine(socketPath, asked)
  })
  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  it('uses the socket the CLI would use, and only that one', () => {
    expect(engineSocket({ HOME: home })).toBe('/var/run/docker.sock')
    expect(engineSocket(env)).toBe(socketPath)
    // Remote daemons, TLS and chosen contexts are the CLI's to reach.
    expect(engineSocket({ HOME: home, DOCKER_HOST: 'tcp://127.0.0.1:2375' })).toBeUndefined()
    expect(engineSocket({ HOME: home, DOCKER_HOST: 'ssh://builder@host' })).toBeUndefined()
    expect(engineSocket({ ...env, DOCKER_CONTEXT: 'remote' })).toBeUndefined()
    expect(engineSocket({ ...env, DOCKER_TLS_VERIFY: '1' })).toBeUndefined()
  })

  it("leaves a context chosen in the CLI's config to the CLI", () => {
    const configDir = path.join(dir, 'docker-config')
    mkdirSync(configDir, { recursive: true })
    writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ currentContext: 'colima' }))
    expect(engineSocket({ ...env, DOCKER_CONFIG: configDir })).toBeUndefined()
    writeFileSync(
      path.join(configDir, 'config.json'),
      JSON.stringify({ currentContext: 'default' })
    )
    expect(engineSocket({ ...env, DOCKER_CONFIG: configDir })).toBe(socketPath)
    writeFileSync(path.join(configDir, 'config.json'), '{ not json')
    expect(engineSocket({ ...env, DOCKER_CONFIG: configDir })).toBeUndefined()
  })

  it('answers with the status and the parsed body', async () => {
    const version = await engineGet('/version', env)
    expect(version?.status).toBe(200)
    expect(field(version?.body, 'Version', 'string')).toBe('28.2.2')
    const image = await engineGet('/images/claude-sandbox/debian:bookworm-slim/json', env)
    expect(field(image?.body, 'Id', 'string')).toBe('sha256:' + 'a'.repeat(64))
    expect((await engineGet('/images/missing:latest/json', env))?.status).toBe(404)
    const broken = await engineGet('/containers/broken/json', env)
    expect(broken).toEqual({ status: 500, body: 'not json at all' })
    expect(asked).toContain('/images/claude-sandbox/debian:bookworm-slim/json')
  })

  it('answers undefined where the socket is not there or not ours, so the CLI is asked', async () => {
    const before = asked.length
    expect(
      await engineGet('/version', { ...env, DOCKER_HOST: 'tcp://127.0.0.1:9' })
    ).toBeUndefined()
    expect(
      await engineGet('/version', { HOME: home, DOCKER_HOST: `unix://${dir}/nothing.sock` })
    ).toBeUndefined()
    expect(asked.length).toBe(before)
  })

  it('reads a field only when it has the type asked for', () => {
    expect(field({ Pid: 42 }, 'Pid', 'number')).toBe(42)
    expect(field({ Pid: '42' }, 'Pid', 'number')).toBeUndefined()
    expect(field('text', 'Pid', 'number')).toBeUndefined()
    expect(field(null, 'Id', 'string')).toBeUndefined()
  })
  it("reads an image's id, environment and labels from the socket, by any reference", async () => {
    const saved = { DOCKER_HOST: process.env.DOCKER_HOST, HOME: process.env.HOME }
    Object.assign(process.env, env)
    try {
      const ref = `registry.example.com/team/agent@sha256:${'b'.repeat(64)}`
      expect(await inspectImage(ref)).toEqual({
        id: `sha256:${'c'.repeat(64)}`,
        env: ['PATH=/opt/bin:/usr/bin'],
        labels: { 'org.claude-sandbox-action.cli-mount': '/usr/local/bin/claude' }
      })
      // No Config at all: an id with nothing configured.
      expect(await inspectImage('claude-sandbox/debian:bookworm-slim')).toEqual({
        id: `sha256:${'a'.repeat(64)}`,
        env: [],
        labels: {}
      })
      // 404 is "not here", answered without asking the CLI.
      expect(await inspectImage('claude-sandbox/none:0')).toBeUndefined()
      expect(asked).toContain(`/images/${ref}/json`)
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})
