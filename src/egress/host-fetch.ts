import { request as httpsRequest, Agent as HttpsAgent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { TunnelingAgent, upstreamProxyFor } from './upstream-proxy.js'

/**
 * `fetch` for the host's own calls to the model provider's side (the workload identity token
 * exchange), reaching it the way the gateway reaches the API: through the runner's HTTPS_PROXY
 * (NO_PROXY honoured) and trusting the `ca-certificates` bundle, as self-hosted runners behind a
 * TLS-inspecting proxy need. Node's fetch does neither, so on such a runner the exchange failed
 * while the model requests themselves would have gone through. Where neither applies it is the
 * global fetch. Enough of fetch for a JSON request: a string body, headers, a signal.
 */
export function hostFetch(options: { caPem?: string; env?: NodeJS.ProcessEnv } = {}): typeof fetch {
  const env = options.env ?? process.env
  const tls = options.caPem ? { ca: [...rootCertificates, options.caPem] } : {}
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const proxy = upstreamProxyFor(url.toString(), env)
    if (url.protocol !== 'https:' || (!proxy && !options.caPem)) return fetch(input, init)
    const agent = proxy ? new TunnelingAgent(proxy, tls) : new HttpsAgent(tls)
    try {
      return await send(url, init ?? {}, agent)
    } finally {
      agent.destroy()
    }
  }
}

function send(url: URL, init: RequestInit, agent: HttpsAgent): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = new Headers(init.headers)
    const body = typeof init.body === 'string' ? init.body : undefined
    if (init.body !== undefined && init.body !== null && body === undefined) {
      reject(new TypeError('hostFetch sends string bodies only'))
      return
    }
    const outgoing: Record<string, string> = {}
    headers.forEach((value, name) => (outgoing[name] = value))
    if (body !== undefined) outgoing['content-length'] = String(Buffer.byteLength(body))
    const request = httpsRequest(
      url,
      { method: init.method ?? 'GET', headers: outgoing, agent },
      response => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('error', reject)
        response.on('end', () => {
          const answer = new Headers()
          for (const [name, value] of Object.entries(response.headers)) {
            if (typeof value === 'string') answer.set(name, value)
            else if (Array.isArray(value)) for (const v of value) answer.append(name, v)
          }
          const status = response.statusCode ?? 502
          // A Response may not carry a body with these statuses.
          const empty = status === 204 || status === 304
          resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: answer }))
        })
      }
    )
    const signal = init.signal
    const abort = (): void => {
      request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
    }
    if (signal?.aborted) abort()
    else signal?.addEventListener('abort', abort, { once: true })
    request.on('close', () => signal?.removeEventListener('abort', abort))
    request.on('error', reject)
    request.end(body)
  })
}
