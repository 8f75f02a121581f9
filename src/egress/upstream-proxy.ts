import { request as httpRequest, type ClientRequestArgs } from 'node:http'
import { Agent as HttpsAgent, type AgentOptions } from 'node:https'
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'

/**
 * The proxy the gateway must use to reach `upstream`, from the runner's HTTPS_PROXY and
 * NO_PROXY (self-hosted runners often reach the internet only through one). Undefined for a
 * plain-HTTP upstream, with no proxy set, or when NO_PROXY covers the host.
 */
export function upstreamProxyFor(
  upstream: string,
  env: NodeJS.ProcessEnv = process.env
): string | undefined {
  const url = new URL(upstream)
  if (url.protocol !== 'https:') return undefined
  const proxy = env.HTTPS_PROXY || env.https_proxy
  if (!proxy) return undefined
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
  const noProxy = (env.NO_PROXY || env.no_proxy || '')
    .split(/[\s,]+/)
    .map(entry => entry.trim().toLowerCase())
    .filter(Boolean)
  for (const entry of noProxy) {
    if (entry === '*') return undefined
    const name = entry.replace(/:\d+$/, '').replace(/^\*?\./, '')
    if (host === name || host.endsWith(`.${name}`)) return undefined
  }
  return proxy
}

/**
 * An HTTPS agent that reaches its hosts through an HTTP proxy's CONNECT tunnel, then speaks TLS
 * to the host itself (the proxy sees only the host name). Keep-alive works as with any agent.
 */
export class TunnelingAgent extends HttpsAgent {
  private readonly proxy: URL

  constructor(proxy: string, options: AgentOptions = {}) {
    super(options)
    this.proxy = new URL(proxy)
  }

  // Node's Agent accepts a connection made asynchronously through the callback.
  override createConnection(
    requestOptions: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void
  ): Duplex | null | undefined {
    // The agent hands over the TLS options (servername, ca, ...) merged into the request's.
    const options = requestOptions as ConnectionOptions & ClientRequestArgs
    const done = (error: Error | null, stream?: Duplex): void => callback?.(error, stream as Duplex)
    const target = `${options.host ?? 'localhost'}:${options.port ?? 443}`
    const headers: Record<string, string> = { host: target }
    if (this.proxy.username) {
      const user = `${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`
      headers['proxy-authorization'] = `Basic ${Buffer.from(user).toString('base64')}`
    }
    const connect = httpRequest({
      host: this.proxy.hostname,
      port: this.proxy.port || 80,
      method: 'CONNECT',
      path: target,
      headers
    })
    connect.once('connect', (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy()
        done(
          new Error(
            `the proxy ${this.proxy.host} refused CONNECT ${target} (${response.statusCode ?? '?'})`
          )
        )
        return
      }
      // Only TLS settings: the request's own fields (path, method, ...) are not socket options.
      // `host` is what the certificate is checked against; SNI is for names, never addresses.
      const host = options.host ?? 'localhost'
      const secure = tlsConnect({
        socket,
        host,
        servername: options.servername || (isIP(host) ? undefined : host),
        ca: options.ca,
        rejectUnauthorized: options.rejectUnauthorized !== false
      })
      secure.once('secureConnect', () => done(null, secure))
      secure.once('error', error => done(error))
    })
    connect.once('error', error =>
      done(new Error(`the proxy ${this.proxy.host} is unreachable: ${error.message}`))
    )
    connect.end()
    return undefined
  }
}
