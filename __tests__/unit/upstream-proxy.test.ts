/**
 * The gateway behind a proxy: self-hosted runners often reach the internet only through an HTTP
 * proxy (HTTPS_PROXY) and a TLS-inspecting one's CA. Real TLS, a real CONNECT proxy, loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { request, type IncomingHttpHeaders } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway } from '../../src/api-door/gateway.js'
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js'
import { selfSignedCertificate } from '../helpers/tls.js'
import { upstreamProxyFor } from '../../src/egress/upstream-proxy.js'

const REAL_KEY = 'sk-ant-api03-REAL-key-behind-a-proxy'

let dir: string
let cert: string
let upstream: HttpsServer
let upstreamPort: number
const seen: IncomingHttpHeaders[] = []
let proxy: ConnectProxy
let proxyPort: number
let connects: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'unit-upstream-proxy-'))
  const tls = selfSignedCertificate(dir)
  cert = tls.cert
  upstream = createHttpsServer({ key: tls.key, cert }, (req, res) => {
    seen.push(req.headers)
    req.resume()
    res.setHeader('content-type', 'application/json')
    res.end('{"type":"message","content":[]}')
  })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  upstreamPort = (upstream.address() as AddressInfo).port

  // A minimal CONNECT proxy, as a corporate one would be (bounded: loopback targets only).
  proxy = await startConnectProxy()
  proxyPort = proxy.port
  connects = proxy.connects
})

afterAll(async () => {
  upstream.closeAllConnections()
  await new Promise<void>(resolve => upstream.close(() => resolve()))
  await proxy.close()
  rmSync(dir, { recursive: true, force: true })
})

function post(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/v1/messages?beta=true',
        headers: { 'content-type': 'application/json', 'x-api-key': 'placeholder' }
      },
      res => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      }
    )
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end('{"model":"m","messages":[]}')
  })
}

describe('the gateway behind a proxy', () => {
  it('tunnels to an https upstream through CONNECT, trusting the given CA', async () => {
    const gateway = await startGateway({
      socketPath: join(dir, 'gw.sock'),
      upstream: `https://127.0.0.1:${upstreamPort}`,
      credentials: { apiKey: REAL_KEY },
      upstreamProxy: `http://127.0.0.1:${proxyPort}`,
      upstreamCa: cert
    })
    try {
      const status = await post(gateway.socketPath)
      expect([status, gateway.entries.at(-1)?.error]).toEqual([200, undefined])
      expect(connects).toContain(`127.0.0.1:${upstreamPort}`)
      expect(seen.at(-1)?.['x-api-key']).toBe(REAL_KEY)
    } finally {
      await gateway.close()
    }
  })

  it('without the CA, refuses the upstream certificate (502), never sending the key', async () => {
    const before = seen.length
    const gateway = await startGateway({
      socketPath: join(dir, 'gw2.sock'),
      upstream: `https://127.0.0.1:${upstreamPort}`,
      credentials: { apiKey: REAL_KEY },
      upstreamProxy: `http://127.0.0.1:${proxyPort}`
    })
    try {
      expect(await post(gateway.socketPath)).toBe(502)
      expect(seen.length).toBe(before)
    } finally {
      await gateway.close()
    }
  })

  it('answers 502 when the proxy refuses the tunnel', async () => {
    const gateway = await startGateway({
      socketPath: join(dir, 'gw3.sock'),
      upstream: 'https://localhost:9',
      credentials: { apiKey: REAL_KEY },
      upstreamProxy: `http://127.0.0.1:${proxyPort}`
    })
    try {
      expect(await post(gateway.socketPath)).toBe(502)
      expect(gateway.entries.at(-1)?.error).toMatch(/refused CONNECT localhost:9 \(403\)/)
    } finally {
      await gateway.close()
    }
  })
})

describe('upstreamProxyFor', () => {
  it('uses HTTPS_PROXY for https upstreams, except where NO_PROXY says not to', () => {
    const env = {
      HTTPS_PROXY: 'http://proxy.internal:3128',
      NO_PROXY: 'localhost,.corp.example,10.0.0.1'
    }
    expect(upstreamProxyFor('https://api.anthropic.com', env)).toBe('http://proxy.internal:3128')
    expect(upstreamProxyFor('https://llm.corp.example/v1', env)).toBeUndefined()
    expect(upstreamProxyFor('https://corp.example', env)).toBeUndefined()
    expect(upstreamProxyFor('https://notcorp.example', env)).toBe('http://proxy.internal:3128')
    expect(upstreamProxyFor('http://api.anthropic.com', env)).toBeUndefined()
    expect(upstreamProxyFor('https://api.anthropic.com', { https_proxy: 'http://p:1' })).toBe(
      'http://p:1'
    )
    expect(
      upstreamProxyFor('https://api.anthropic.com', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' })
    ).toBeUndefined()
    expect(upstreamProxyFor('https://api.anthropic.com', {})).toBeUndefined()
  })
})
