/**
 * The streamed CLI fetch (cli-fetch-stream.ts) against a registry stand-in on loopback that
 * answers as npm's registry does (a version document with dist.tarball and a sha512 integrity,
 * the tarball behind a redirect): the binary lands complete and identical; a tarball that does
 * not match the digest, a document without one, a missing version and a configured proxy are
 * refused with a reason and place nothing. The real registry is fetched in
 * __tests__/e2e/cli-fetch-host.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { cliBinaryPath, completeMarker } from '../../src/image/cli-binary.js'
import {
  fetchCliStreamed,
  locateCliTarball,
  parseNpmConfig,
  runnerNpm,
  sha512Integrity,
  versionDocumentUrl
} from '../../src/image/cli-fetch-stream.js'

const NAME = '@anthropic-ai/claude-code-linux-x64'

describe('parseNpmConfig', () => {
  it('reads the registry and a proxy from `npm config get` lines', () => {
    expect(
      parseNpmConfig('registry=https://registry.example.com\nhttps-proxy=null\nproxy=null\n')
    ).toEqual({ registry: 'https://registry.example.com/', proxy: undefined })
    expect(
      parseNpmConfig(
        'registry=https://registry.example.com/\nhttps-proxy=http://p:3128\nproxy=null'
      )
    ).toEqual({ registry: 'https://registry.example.com/', proxy: 'http://p:3128' })
    expect(parseNpmConfig('registry=undefined\n')).toBeUndefined()
  })
})

describe('runnerNpm', () => {
  it("asks the runner's npm for its registry, and says when there is no npm", async () => {
    const found = await runnerNpm()
    expect(found.available).toBe(true)
    expect(found.source?.registry).toMatch(/^https?:\/\/.+\/$/)
    expect(await runnerNpm({ ...process.env, PATH: '/nonexistent' })).toEqual({ available: false })
  })
})

describe('versionDocumentUrl and sha512Integrity', () => {
  it('encode the scoped name as npm does and pick the sha512 part', () => {
    expect(versionDocumentUrl('https://registry.example.com/npm/', `${NAME}@2.1.330`)).toBe(
      'https://registry.example.com/npm/@anthropic-ai%2fclaude-code-linux-x64/2.1.330'
    )
    expect(sha512Integrity('sha1-abc sha512-AbC+/9==')).toBe('AbC+/9==')
    expect(sha512Integrity('sha1-abc')).toBeUndefined()
    expect(sha512Integrity(undefined)).toBeUndefined()
  })
})

describe('fetchCliStreamed against a registry stand-in', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'unit-cli-stream-'))
  const binary = randomBytes(3 * 1024 * 1024)
  let tgz: Buffer
  let integrity: string
  let server: http.Server
  let registry = ''
  /** What the stand-in's version document says, per version. */
  const documents = new Map<string, Record<string, unknown>>()
  const requests: string[] = []

  beforeAll(async () => {
    mkdirSync(path.join(dir, 'src', 'package'), { recursive: true })
    writeFileSync(path.join(dir, 'src', 'package', 'claude'), binary)
    writeFileSync(path.join(dir, 'src', 'package', 'README.md'), 'readme')
    execFileSync('tar', ['-czf', path.join(dir, 'pkg.tgz'), '-C', path.join(dir, 'src'), 'package'])
    tgz = readFileSync(path.join(dir, 'pkg.tgz'))
    integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`
    server = http.createServer((req, res) => {
      const url = req.url ?? ''
      requests.push(url)
      const version = /^\/@anthropic-ai%2fclaude-code-linux-x64\/(.+)$/.exec(url)?.[1]
      if (version !== undefined) {
        const document = documents.get(decodeURIComponent(version))
        res.writeHead(document ? 200 : 404, { 'content-type': 'application/json' })
        res.end(JSON.stringify(document ?? { error: 'version not found' }))
      } else if (url === '/tarballs/pkg.tgz') {
        // The registry's tarball URL may redirect to where the bytes are.
        res.writeHead(302, { location: '/blobs/pkg.tgz' })
        res.end()
      } else if (url === '/blobs/pkg.tgz') {
        res.writeHead(200, { 'content-length': tgz.length })
        res.end(tgz)
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const dist = (i: string) => ({ tarball: `${registry}tarballs/pkg.tgz`, integrity: i })
    documents.set('1.0.0', { name: NAME, version: '1.0.0', dist: dist(integrity) })
    const wrong = `sha512-${createHash('sha512').update('other').digest('base64')}`
    documents.set('1.0.1', { name: NAME, version: '1.0.1', dist: dist(wrong) })
    documents.set('1.0.2', { name: NAME, version: '1.0.2', dist: { tarball: dist('').tarball } })
  })
  afterAll(async () => {
    await new Promise<void>(resolve => server.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  })

  const fetch = (version: string, proxy?: string) => {
    const binaryPath = cliBinaryPath(path.join(dir, 'tools'), version, 'X64')
    return fetchCliStreamed({
      version,
      arch: 'X64',
      source: { registry, proxy },
      binaryPath
    }).then(failed => ({ failed, binaryPath }))
  }

  it('places the binary, identical and complete, through the redirect', async () => {
    const { failed, binaryPath } = await fetch('1.0.0')
    expect(failed).toBeUndefined()
    expect(readFileSync(binaryPath).equals(binary)).toBe(true)
    expect(existsSync(completeMarker(binaryPath))).toBe(true)
    expect(requests).toContain('/blobs/pkg.tgz')
  })

  it('refuses a tarball that does not match the integrity digest, and places nothing', async () => {
    const { failed, binaryPath } = await fetch('1.0.1')
    expect(failed).toMatch(/does not match the registry's integrity digest/)
    expect(existsSync(binaryPath)).toBe(false)
    expect(existsSync(completeMarker(binaryPath))).toBe(false)
  })

  it('locates the tarball and its digest from the version document', async () => {
    const located = await locateCliTarball({ version: '1.0.0', arch: 'X64', source: { registry } })
    expect(located).toEqual({
      spec: `${NAME}@1.0.0`,
      url: `${registry}tarballs/pkg.tgz`,
      sha512: integrity.slice('sha512-'.length)
    })
  })

  it('refuses a document without a sha512 digest, a missing version, and a proxy', async () => {
    expect((await fetch('1.0.2')).failed).toMatch(/names no sha512-checked tarball/)
    expect((await fetch('9.9.9')).failed).toMatch(/failed \(HTTP 404\)/)
    const before = requests.length
    expect((await fetch('1.0.0', 'http://proxy.example.com:3128')).failed).toMatch(/proxy/)
    expect(requests.length).toBe(before)
  })
})
