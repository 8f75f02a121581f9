/**
 * Anthropic's Messages API, or an LLM gateway in front of it (LiteLLM, Portkey, a company's own):
 * the paths and request shape are the CLI's own (api-policy.ts), and the gateway adds one of an
 * API key (`x-api-key`), an OAuth token (bearer, with the OAuth beta), an LLM gateway's token
 * (`anthropic-auth-token`: a plain bearer, as LiteLLM expects) or a workload-identity token
 * exchanged on the host (workload-identity.ts: bearer with the OAuth beta), plus the
 * `anthropic-custom-headers` lines.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { checkPath, checkRequest } from '../api-policy.js'
import { tapFor } from '../usage-meter.js'
import {
  CredentialsError,
  type OutgoingRequest,
  type ProviderRequest,
  type UpstreamProvider
} from './provider.js'

/** The beta flag the API requires on requests authenticated with an OAuth bearer token. */
export const OAUTH_BETA = 'oauth-2025-04-20'

export interface AnthropicCredentials {
  /** Sent as `x-api-key`. */
  apiKey?: string
  /** Sent as `authorization: Bearer ...` with the OAuth beta flag. */
  oauthToken?: string
  /** An LLM gateway's token, sent as `authorization: Bearer ...` (no beta flag). */
  authToken?: string
  /** A short-lived token the host keeps fresh (workload identity), sent like an OAuth token. */
  federatedToken?: () => Promise<string>
  /** Header lines added to every request upstream. */
  customHeaders?: Record<string, string>
}

export function hasAnthropicCredentials(credentials: AnthropicCredentials): boolean {
  return Boolean(
    credentials.apiKey ||
    credentials.oauthToken ||
    credentials.authToken ||
    credentials.federatedToken
  )
}

export function anthropicProvider(
  credentials: AnthropicCredentials,
  label = "Anthropic's API"
): UpstreamProvider {
  return {
    name: 'anthropic',
    label,
    credentialsRemedy: credentials.federatedToken
      ? 'Check the federation rule (its issuer, audience and subject conditions must match the job’s OIDC token), `anthropic-organization-id` and, when the rule covers several workspaces, `anthropic-workspace-id`'
      : credentials.authToken
        ? 'Check `anthropic-auth-token` and `anthropic-custom-headers` against what the LLM gateway expects'
        : 'Check that the key (or token) is valid and not revoked',
    checkPath,
    check: (request: ProviderRequest, policy) => {
      const verdict = checkRequest(request, policy)
      return verdict.allowed ? { ...verdict, upstreamPath: request.path } : verdict
    },
    async authorize(request: OutgoingRequest): Promise<OutgoingHttpHeaders> {
      const headers: OutgoingHttpHeaders = { ...request.headers }
      if (credentials.apiKey) {
        headers['x-api-key'] = credentials.apiKey
      } else if (credentials.oauthToken) {
        headers['authorization'] = `Bearer ${credentials.oauthToken}`
        headers['anthropic-beta'] = withBeta(headers['anthropic-beta'], OAUTH_BETA)
      } else if (credentials.authToken) {
        headers['authorization'] = `Bearer ${credentials.authToken}`
      } else if (credentials.federatedToken) {
        let token: string
        try {
          token = await credentials.federatedToken()
        } catch (error: unknown) {
          if (error instanceof CredentialsError) throw error
          throw new CredentialsError(error instanceof Error ? error.message : String(error))
        }
        headers['authorization'] = `Bearer ${token}`
        headers['anthropic-beta'] = withBeta(headers['anthropic-beta'], OAUTH_BETA)
      }
      for (const [name, value] of Object.entries(credentials.customHeaders ?? {})) {
        headers[name.toLowerCase()] = value
      }
      return headers
    },
    tapFor
  }
}

/** Appends a flag to a comma-separated `anthropic-beta` value unless it is already there. */
export function withBeta(existing: OutgoingHttpHeaders[string], flag: string): string {
  const flags = (Array.isArray(existing) ? existing.join(',') : String(existing ?? ''))
    .split(',')
    .map(item => item.trim())
    .filter(item => item !== '')
  if (!flags.includes(flag)) flags.push(flag)
  return flags.join(',')
}
