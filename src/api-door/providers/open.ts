/**
 * Opens the chosen provider before anything else starts (a missing credential ends the step
 * before an image is built or a container run), loading its module and libraries only then: the
 * AWS SDK for Bedrock, google-auth-library for Vertex. Each failure is one ConfigurationError
 * naming the cause, the step that provides the credentials and the permission it needs.
 */
import * as core from '@actions/core'
import { readFileSync } from 'node:fs'
import { hostFetch } from '../../egress/host-fetch.js'
import { ConfigurationError, errorMessage } from '../../errors.js'
import { certificateBlocks } from '../../inputs.js'
import type { CredentialSettings } from '../../settings.js'
import { anthropicProvider } from './anthropic.js'
import type { UpstreamProvider } from './provider.js'
import { federatedTokenCache } from './workload-identity.js'

const OIDC_REMEDY =
  'Give the job `permissions: id-token: write` (and `contents: read`) so it can ask GitHub for its OIDC token'

/** How the host reaches the provider's side: the `ca-certificates` bundle (a TLS-inspecting
 * proxy's CA), beside the runner's HTTPS_PROXY. */
export interface HostNetwork {
  caFile?: string
}

export async function openProvider(
  credentials: CredentialSettings,
  network: HostNetwork = {}
): Promise<UpstreamProvider> {
  for (const secret of [credentials.authToken, ...Object.values(credentials.customHeaders)]) {
    if (secret) core.setSecret(secret)
  }
  if (credentials.provider === 'bedrock') return openBedrock(credentials)
  if (credentials.provider === 'vertex') return openVertex(credentials)
  if (credentials.federation) return openWorkloadIdentity(credentials, network)
  return anthropicProvider({
    apiKey: credentials.apiKey,
    oauthToken: credentials.oauthToken,
    authToken: credentials.authToken,
    customHeaders: credentials.customHeaders
  })
}

async function openBedrock(credentials: CredentialSettings): Promise<UpstreamProvider> {
  const region = credentials.awsRegion ?? ''
  const { bedrockProvider } = await import('./bedrock.js')
  const provider = bedrockProvider({ region })
  try {
    const found = await provider.verifyCredentials()
    core.setSecret(found.secretAccessKey)
    if (found.sessionToken) core.setSecret(found.sessionToken)
  } catch (error: unknown) {
    throw new ConfigurationError(
      `Input \`provider\` is bedrock, but the job has no AWS credentials (${firstLine(error)})`,
      'Add an aws-actions/configure-aws-credentials step before this one (`role-to-assume`, `aws-region`), and give the job `permissions: id-token: write`'
    )
  }
  core.info(`Model provider: ${provider.label}, signed on the host with the job's AWS credentials`)
  return provider
}

async function openVertex(credentials: CredentialSettings): Promise<UpstreamProvider> {
  const place = credentials.vertex ?? { projectId: '', region: '' }
  const { adcTokenSource, vertexProvider } = await import('./vertex.js')
  const remedy =
    'Add a google-github-actions/auth step before this one (`workload_identity_provider`, `service_account`), and give the job `permissions: id-token: write`'
  let token: () => Promise<string>
  try {
    token = await adcTokenSource(place.projectId)
  } catch (error: unknown) {
    throw new ConfigurationError(
      `Input \`provider\` is vertex, but the job has no Google credentials (${firstLine(error)})`,
      remedy
    )
  }
  try {
    core.setSecret(await token())
  } catch (error: unknown) {
    throw new ConfigurationError(
      `Input \`provider\` is vertex, but no access token could be had with the job's Google credentials (${firstLine(error)})`,
      `${remedy}; check the workload identity pool's provider and the service account's roles/iam.workloadIdentityUser binding`
    )
  }
  core.info(`Model provider: ${vertexProvider(place, token).label}, token added on the host`)
  return vertexProvider(place, token)
}

async function openWorkloadIdentity(
  credentials: CredentialSettings,
  network: HostNetwork
): Promise<UpstreamProvider> {
  const federation = credentials.federation
  if (!federation) throw new Error('no federation settings')
  if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL || !process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    throw new ConfigurationError(
      'Workload identity federation needs the job’s OIDC token, and the job may not ask for one (ACTIONS_ID_TOKEN_REQUEST_URL is not set)',
      OIDC_REMEDY
    )
  }
  const cache = federatedTokenCache(credentials.baseUrl, federation, {
    getIdToken: audience => core.getIDToken(audience),
    // Through the runner's proxy and trusting its CA, as the gateway reaches the API.
    fetch: hostFetch({
      caPem: network.caFile
        ? certificateBlocks(readFileSync(network.caFile, 'utf8')).join('\n')
        : undefined
    }),
    warn: message => core.warning(message),
    mask: secret => core.setSecret(secret)
  })
  try {
    await cache.get()
  } catch (error: unknown) {
    throw new ConfigurationError(
      `Workload identity federation: the token exchange failed: ${firstLine(error)}`,
      'Check that the federation rule matches the job’s OIDC token (issuer https://token.actions.githubusercontent.com, the audience, the repository in its subject), and `anthropic-federation-rule-id`, `anthropic-organization-id`, `anthropic-workspace-id`'
    )
  }
  core.info(
    `Model provider: Anthropic's API with workload identity federation (rule ${federation.ruleId}); the short-lived token is kept and renewed on the host`
  )
  return anthropicProvider(
    {
      federatedToken: () => cache.get(),
      customHeaders: credentials.customHeaders
    },
    "Anthropic's API (workload identity)"
  )
}

function firstLine(error: unknown): string {
  const text = errorMessage(error).split('\n')[0] ?? ''
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}
