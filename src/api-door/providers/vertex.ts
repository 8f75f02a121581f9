/**
 * Google Vertex AI. The CLI inside runs in its Vertex mode with its own Google authentication
 * skipped (cli-env.ts), its base URL the gateway's `/v1`, and sends (measured with 2.1.330):
 * `POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict`
 * (the agent loop, answered with the Messages API's server-sent events) and `...:rawPredict`
 * (side requests, JSON): the Messages body without `model`, with
 * `anthropic_version: vertex-2023-10-16`, the betas in the `anthropic-beta` header. Only the
 * configured project and region pass. The gateway adds an access token from Application Default
 * Credentials (google-auth-library: what google-github-actions/auth sets up, including its
 * `external_account` workload-identity files), which the library caches and refreshes before it
 * expires.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { checkRequest, type PolicyOptions } from '../api-policy.js'
import { tapFor } from '../usage-meter.js'
import {
  checkAsMessages,
  modelFromPath,
  CredentialsError,
  refusal,
  type OutgoingRequest,
  type ProviderRequest,
  type ProviderVerdict,
  type Refusal,
  type UpstreamProvider
} from './provider.js'

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16'

const MODEL_PATH =
  /^\/v1\/projects\/([^/?]+)\/locations\/([^/?]+)\/publishers\/anthropic\/models\/([A-Za-z0-9._@%-]{1,200}):(streamRawPredict|rawPredict)$/

export interface VertexPlace {
  projectId: string
  region: string
}

export function checkVertexPath(
  method: string,
  path: string,
  place: VertexPlace
): Refusal | undefined {
  const [pathname = '', query] = path.split('?')
  const match = MODEL_PATH.exec(pathname)
  if (method !== 'POST' || !match || query !== undefined) {
    return refusal(`path ${method} ${pathname}`, `path not allowed: ${method} ${pathname}`)
  }
  if (match[1] !== place.projectId || match[2] !== place.region) {
    return refusal(
      'project or region',
      `only project ${place.projectId} in ${place.region} is reachable, not ${match[1]} in ${match[2]}`
    )
  }
  return undefined
}

export function checkVertexRequest(
  request: ProviderRequest,
  policy: PolicyOptions,
  place: VertexPlace
): ProviderVerdict {
  const pathRefusal = checkVertexPath(request.method, request.path, place)
  if (pathRefusal) return pathRefusal
  const model = modelFromPath(MODEL_PATH.exec(request.path)?.[3])
  if (typeof model !== 'string') return model
  return checkAsMessages(
    request,
    policy,
    {
      model,
      anthropicVersion: VERTEX_ANTHROPIC_VERSION,
      // The upstream base ends in /v1, as the CLI's does.
      upstreamPath: request.path.slice('/v1'.length)
    },
    checkRequest
  )
}

/** What the provider needs of google-auth-library: an access token, cached and refreshed there. */
export type AccessTokenSource = () => Promise<string>

export function vertexProvider(place: VertexPlace, token: AccessTokenSource): UpstreamProvider {
  return {
    name: 'vertex',
    label: `Google Vertex AI (${place.projectId}, ${place.region})`,
    credentialsRemedy:
      'Check that the identity google-github-actions/auth set up has roles/aiplatform.user on the project and that the Claude model is enabled in Vertex AI Model Garden for this region',
    checkPath: (method, path) => checkVertexPath(method, path, place),
    check: (request, policy) => checkVertexRequest(request, policy, place),
    async authorize(request: OutgoingRequest): Promise<OutgoingHttpHeaders> {
      let accessToken: string
      try {
        accessToken = await token()
      } catch (error: unknown) {
        throw new CredentialsError(
          `no Google access token: ${error instanceof Error ? error.message : String(error)}`
        )
      }
      return { ...request.headers, authorization: `Bearer ${accessToken}` }
    },
    tapFor
  }
}

/** An access-token source from Application Default Credentials (loaded only for Vertex). */
export async function adcTokenSource(projectId: string): Promise<AccessTokenSource> {
  const { GoogleAuth } = await import('google-auth-library')
  const auth = new GoogleAuth({
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    // Given, so the library never asks cloudresourcemanager for it.
    projectId
  })
  const client = await auth.getClient()
  return async () => {
    const { token } = await client.getAccessToken()
    if (!token) throw new Error('Application Default Credentials gave no access token')
    return token
  }
}
