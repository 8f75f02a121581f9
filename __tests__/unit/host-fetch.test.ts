/**
 * The host's own calls to the provider's side (the workload identity exchange) behind a
 * self-hosted runner's proxy and its TLS-inspecting CA: real TLS, a real CONNECT proxy, loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostFetch } from '../../src/egress/host-fetch.js'
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js'
import { selfSignedCertificate } from '../helpers/tls.js'

let dir: string
let cert: string
let upstream: HttpsServer
let upstreamUrl: string
const bodies: string[] = []
let proxy: ConnectProxy
let proxyUrl: string
let connects: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'unit-host-fetch-'))
  const tls = selfSignedCertificate(dir)
  cert = tls.cert
  upstream = createHttpsServer({ key: tls.key, cert }, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      bodies.push(body)
      res.setHeader('content-type', 'application/json')
      res.statusCode = req.url === '/refuse' ? 401 : 200
      res.end(JSON.stringify({ access_token: 'tok', expires_in: 60, method: req.method }))
    })
  })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  upstreamUrl = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`

  proxy = await startConnectProxy()
  proxyUrl = proxy.url
  connects = proxy.connects
})

afterAll(async () => {
  upstream.closeAllConnections()
  await new Promise(resolve => upstream.close(resolve))
  await proxy.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('hostFetch', () => {
  it('posts through the runner’s HTTPS_PROXY, trusting the ca-certificates bundle', async () => {
    const before = connects.length
    const fetchIt = hostFetch({ caPem: cert, env: { HTTPS_PROXY: proxyUrl } })
    const response = await fetchIt(`${upstreamUrl}/v1/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":"jwt-bearer"}',
      signal: AbortSignal.timeout(10_000)
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ access_token: 'tok', expires_in: 60, method: 'POST' })
    expect(bodies[bodies.length - 1]).toBe('{"grant_type":"jwt-bearer"}')
    expect(connects.slice(before)).toEqual([upstreamUrl.replace('https://', '')])
  })

  it('keeps the status of a refusal for the caller to read', async () => {
    const fetchIt = hostFetch({ caPem: cert, env: { HTTPS_PROXY: proxyUrl } })
    const response = await fetchIt(`${upstreamUrl}/refuse`, { method: 'POST', body: '{}' })
    expect(response.ok).toBe(false)
    expect(response.status).toBe(401)
  })

  it('goes direct when NO_PROXY covers the host, still trusting the bundle', async () => {
    const before = connects.length
    const fetchIt = hostFetch({
      caPem: cert,
      env: { HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' }
    })
    expect((await fetchIt(`${upstreamUrl}/x`, { method: 'POST', body: '{}' })).status).toBe(200)
    expect(connects.length).toBe(before)
  })

  it('without the bundle the inspecting proxy’s certificate is refused', async () => {
    const fetchIt = hostFetch({ env: { HTTPS_PROXY: proxyUrl } })
    await expect(fetchIt(`${upstreamUrl}/x`, { method: 'POST', body: '{}' })).rejects.toThrow(
      /self[- ]signed|certificate/i
    )
  })

  it('honours an abort signal', async () => {
    const fetchIt = hostFetch({ caPem: cert, env: { HTTPS_PROXY: proxyUrl } })
    const aborted = AbortSignal.abort(new Error('stopped here'))
    await expect(fetchIt(`${upstreamUrl}/x`, { method: 'POST', signal: aborted })).rejects.toThrow(
      /stopped here/
    )
  })
})
