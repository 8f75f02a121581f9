/**
 * Anthropic's workload identity federation, on the host: the job's OIDC token (GitHub's, asked
 * for with `@actions/core`'s getIDToken, which needs `permissions: id-token: write`) exchanged at
 * the API's token endpoint (`POST /v1/oauth/token`, the RFC 7523 jwt-bearer grant, with the
 * federation rule and the organization, as Anthropic's TypeScript SDK does in
 * src/lib/credentials/oidc-federation.ts) for a short-lived access token, kept in memory and
 * exchanged again before it expires (token-cache.ts). Neither token ever enters the container.
 */
import { CredentialsError } from './provider.js'
import { TokenCache, type ExpiringToken } from './token-cache.js'

export const TOKEN_ENDPOINT = '/v1/oauth/token'
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
/** The betas the token endpoint wants on a jwt-bearer exchange (the SDK's values). */
export const FEDERATION_BETAS = 'oauth-2025-04-20,oidc-federation-2026-04-01'
export const DEFAULT_OIDC_AUDIENCE = 'https://api.anthropic.com'

export interface FederationSettings {
  ruleId: string
  organizationId: string
  serviceAccountId?: string
  workspaceId?: string
  audience: string
}

/** The exchange's JSON body (pure). */
export function exchangeBody(federation: FederationSettings, assertion: string): string {
  return JSON.stringify({
    grant_type: JWT_BEARER_GRANT,
    assertion,
    federation_rule_id: federation.ruleId,
    organization_id: federation.organizationId,
    ...(federation.serviceAccountId ? { service_account_id: federation.serviceAccountId } : {}),
    ...(federation.workspaceId ? { workspace_id: federation.workspaceId } : {})
  })
}

/** Only the RFC 6749 error fields of a token endpoint's answer: the rest may echo the assertion. */
function describeRefusal(status: number, text: string): string {
  let detail = text.slice(0, 300)
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>
    const nested = parsed.error as Record<string, unknown> | string | undefined
    detail =
      [
        typeof nested === 'string' ? nested : nested?.type,
        parsed.error_description ?? (typeof nested === 'object' ? nested?.message : undefined)
      ]
        .filter(part => typeof part === 'string')
        .join(': ') || `status ${status}`
  } catch {
    // Not JSON: the start of the text, as it is.
  }
  return `the token endpoint answered ${status}: ${detail}`
}

export interface IdentityDeps {
  /** `core.getIDToken`. */
  getIdToken: (audience: string) => Promise<string>
  fetch: typeof fetch
  warn: (message: string) => void
  /** Masks each new token in the job's log. */
  mask?: (secret: string) => void
}

/** A token source for the gateway: exchanges on first use and again before each expiry. */
export function federatedTokenCache(
  baseUrl: string,
  federation: FederationSettings,
  deps: IdentityDeps
): TokenCache {
  const url = `${baseUrl.replace(/\/+$/, '')}${TOKEN_ENDPOINT}`
  const exchange = async (): Promise<ExpiringToken> => {
    let assertion: string
    try {
      assertion = await deps.getIdToken(federation.audience)
    } catch (error: unknown) {
      throw new CredentialsError(
        `could not get the job's OIDC token: ${error instanceof Error ? error.message : String(error)}`
      )
    }
    let response: Response
    try {
      response = await deps.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'anthropic-beta': FEDERATION_BETAS,
          'user-agent': 'claude-sandbox-action workload-identity'
        },
        body: exchangeBody(federation, assertion),
        signal: AbortSignal.timeout(30_000)
      })
    } catch (error: unknown) {
      throw new CredentialsError(
        `could not reach the token endpoint ${url}: ${error instanceof Error ? error.message : String(error)}`
      )
    }
    const text = (await response.text()).slice(0, 1 << 20)
    if (!response.ok) throw new CredentialsError(describeRefusal(response.status, text))
    let data: { access_token?: unknown; expires_in?: unknown; token_type?: unknown }
    try {
      data = JSON.parse(text) as typeof data
    } catch {
      throw new CredentialsError('the token endpoint answered with something other than JSON')
    }
    const expiresIn = Number(data.expires_in)
    if (typeof data.access_token !== 'string' || !Number.isFinite(expiresIn)) {
      throw new CredentialsError('the token endpoint gave no access_token or expires_in')
    }
    if (typeof data.token_type === 'string' && data.token_type.toLowerCase() !== 'bearer') {
      throw new CredentialsError(`the token endpoint gave a ${data.token_type} token, not Bearer`)
    }
    deps.mask?.(data.access_token)
    return { token: data.access_token, expiresAt: Date.now() + expiresIn * 1000 }
  }
  return new TokenCache(exchange, error =>
    deps.warn(
      `Workload identity: exchanging the token again failed, the current one is used until it expires: ${error instanceof Error ? error.message : String(error)}`
    )
  )
}
