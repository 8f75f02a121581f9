/**
 * What the CLI inside needs in its environment to use a provider through the gateway (pure):
 * its Bedrock or Vertex mode, the gateway as the provider's base URL, and its own cloud
 * authentication skipped (the gateway signs or adds the token on the host). No credential, no
 * AWS_* or GOOGLE_* variable: measured with 2.1.330, the CLI in Bedrock mode with its
 * authentication skipped needs no region (it only picks its default model's `us.` inference
 * profile by it; other regions give `model`).
 */
import type { ProviderSettings } from './provider-inputs.js'

export function providerCliEnv(
  settings: Pick<ProviderSettings, 'provider' | 'vertex'>,
  gatewayUrl: string
): Record<string, string> {
  if (settings.provider === 'bedrock') {
    return {
      CLAUDE_CODE_USE_BEDROCK: '1',
      ANTHROPIC_BEDROCK_BASE_URL: gatewayUrl,
      CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1'
    }
  }
  if (settings.provider === 'vertex' && settings.vertex) {
    return {
      CLAUDE_CODE_USE_VERTEX: '1',
      ANTHROPIC_VERTEX_BASE_URL: `${gatewayUrl}/v1`,
      CLAUDE_CODE_SKIP_VERTEX_AUTH: '1',
      ANTHROPIC_VERTEX_PROJECT_ID: settings.vertex.projectId,
      CLOUD_ML_REGION: settings.vertex.region
    }
  }
  return {}
}

/** Variables the `env` input may not set: they would switch the CLI off the gateway. */
export const PROVIDER_RESERVED_ENV = [
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'CLAUDE_CODE_USE_FOUNDRY',
  'ANTHROPIC_BEDROCK_BASE_URL',
  'ANTHROPIC_VERTEX_BASE_URL',
  'ANTHROPIC_FOUNDRY_BASE_URL',
  'CLAUDE_CODE_SKIP_BEDROCK_AUTH',
  'CLAUDE_CODE_SKIP_VERTEX_AUTH',
  'ANTHROPIC_VERTEX_PROJECT_ID',
  'CLOUD_ML_REGION'
]

/**
 * Credentials of the job that the `env` input may not hand the agent, not even by name: the
 * cloud credentials the gateway uses on the host, and the job's OIDC token request.
 */
export const CREDENTIAL_ENV =
  /^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|SECURITY_TOKEN|WEB_IDENTITY_TOKEN_FILE|ROLE_ARN|CONTAINER_AUTHORIZATION_TOKEN(_FILE)?|BEARER_TOKEN_BEDROCK)|GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_GHA_CREDS_PATH|CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE|CLOUDSDK_AUTH_ACCESS_TOKEN(_FILE)?|ACTIONS_ID_TOKEN_REQUEST_(URL|TOKEN)|ANTHROPIC_IDENTITY_TOKEN(_FILE)?|ANTHROPIC_FEDERATION_RULE_ID|ANTHROPIC_ORGANIZATION_ID)$/
