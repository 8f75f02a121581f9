/**
 * The provider seam of the API door: what differs between reaching Claude through Anthropic's
 * API, Amazon Bedrock or Google Vertex AI, behind one small interface, one module per provider
 * (anthropic.ts, bedrock.ts, vertex.ts), each loaded only when chosen (open.ts).
 *
 * A provider says which paths the CLI uses in its mode, how such a request maps to the Messages
 * shape the request policy checks (api-policy.ts's checkRequest, the same on every provider), how
 * the checked request goes upstream (path, body), how it is authenticated there (headers, a
 * signature, a short-lived token the host refreshes), and how the response's usage is read.
 * The gateway (gateway.ts) does the rest: bounded reading, the spend cap, streaming, logging.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import {
  isRecord,
  refuse,
  type PolicyOptions,
  type PolicyVerdict,
  type Refusal
} from '../api-policy.js'
import type { ResponseTap } from '../usage-meter.js'

export type ProviderName = 'anthropic' | 'bedrock' | 'vertex'

export const PROVIDERS: readonly ProviderName[] = ['anthropic', 'bedrock', 'vertex']

export type { Refusal }
export type Allowed = Extract<PolicyVerdict, { allowed: true }>

/** A request as the gateway received it from the CLI (body read, within the policy's limit). */
export interface ProviderRequest {
  method: string
  /** Path with query, as the CLI sent it. */
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A request the policy allowed, as it goes upstream. */
export type ProviderVerdict =
  | (Allowed & {
      /** Path with query to append to the upstream base URL's path. */
      upstreamPath: string
    })
  | Refusal

/** What the gateway asks the provider to authenticate: the request exactly as it will be sent. */
export interface OutgoingRequest {
  method: string
  /** The upstream's origin parts and the full path (base path + upstreamPath). */
  secure: boolean
  hostname: string
  port: number
  path: string
  /** Headers already without the CLI's credentials and hop-by-hop headers. */
  headers: OutgoingHttpHeaders
  body: string
}

export interface UpstreamProvider {
  readonly name: ProviderName
  /** For messages: e.g. `Amazon Bedrock (eu-west-1)`. */
  readonly label: string
  /** Checks method and path before the body is read. */
  checkPath(method: string, path: string): Refusal | undefined
  /** The whole policy, on the provider's request shape. */
  check(request: ProviderRequest, policy: PolicyOptions): ProviderVerdict
  /** The headers to send upstream: adds the credentials (or a signature). May refresh a token. */
  authorize(request: OutgoingRequest): Promise<OutgoingHttpHeaders>
  /** Reads the usage of a response of this content type. */
  tapFor(contentType: string): ResponseTap
  /** One sentence for an upstream 401/403: what to check on the provider's side. */
  readonly credentialsRemedy: string
}

/** A refusal shaped as the request policy's own (an invalid request, the rule named). */
export function refusal(rule: string, detail: string): Refusal {
  return refuse(rule, detail)
}

/** The model id a cloud provider's path carries (URL-encoded there), or a refusal. */
export function modelFromPath(encoded: string | undefined): string | Refusal {
  try {
    return decodeURIComponent(encoded ?? '')
  } catch {
    return refusal('path', 'the model id in the path is not well encoded')
  }
}

/** A failure to get credentials for a request (an expired role, a failed token exchange). */
export class CredentialsError extends Error {}

export { isRecord }

/** `anthropic-beta` from the headers and, where a provider puts them there, the body's list. */
export function betaHeader(headers: IncomingHttpHeaders, bodyBetas: unknown): string | undefined {
  const raw = headers['anthropic-beta']
  const flags = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map(flag => flag.trim())
    .filter(flag => flag !== '')
  if (Array.isArray(bodyBetas)) {
    for (const flag of bodyBetas) flags.push(typeof flag === 'string' ? flag : JSON.stringify(flag))
  }
  return flags.length > 0 ? [...new Set(flags)].join(',') : undefined
}

/**
 * Checks a cloud provider's Messages request (Bedrock's, Vertex's: the model in the path,
 * `anthropic_version` and maybe `anthropic_beta` in the body) with the one request policy, by
 * putting it in the shape the policy takes (the model in the body, the betas in the header), then
 * back into the provider's shape for the upstream, re-serialized from what was checked.
 */
export function checkAsMessages(
  request: ProviderRequest,
  policy: PolicyOptions,
  shape: { model: string; anthropicVersion: string; upstreamPath: string },
  check: (
    request: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer },
    policy: PolicyOptions
  ) => PolicyVerdict
): ProviderVerdict {
  let parsed: unknown
  try {
    parsed = JSON.parse(request.body.toString('utf8'))
  } catch {
    return refusal('body not JSON', 'the body is not JSON')
  }
  if (!isRecord(parsed)) return refusal('body not an object', 'the body is not a JSON object')
  const { anthropic_version: version, anthropic_beta: bodyBetas, ...rest } = parsed
  if (version !== shape.anthropicVersion) {
    return refusal(
      'anthropic_version',
      `anthropic_version must be ${shape.anthropicVersion}, got ${JSON.stringify(version)?.slice(0, 60)}`
    )
  }
  if (bodyBetas !== undefined && !Array.isArray(bodyBetas)) {
    return refusal('anthropic_beta', '`anthropic_beta` is not a list')
  }
  if ('model' in rest) return refusal('field model', 'the model belongs in the path')
  const headers: IncomingHttpHeaders = { ...request.headers }
  const betas = betaHeader(request.headers, bodyBetas)
  if (betas === undefined) delete headers['anthropic-beta']
  else headers['anthropic-beta'] = betas
  const verdict = check(
    {
      method: 'POST',
      path: '/v1/messages',
      headers,
      body: Buffer.from(JSON.stringify({ model: shape.model, ...rest }))
    },
    policy
  )
  if (!verdict.allowed) return verdict
  const checked = JSON.parse(verdict.body) as Record<string, unknown>
  delete checked.model
  const upstream: Record<string, unknown> = { anthropic_version: version, ...checked }
  if (bodyBetas !== undefined) upstream.anthropic_beta = bodyBetas
  return { ...verdict, body: JSON.stringify(upstream), upstreamPath: shape.upstreamPath }
}
