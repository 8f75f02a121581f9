/**
 * What the CLI inside needs in its environment to use a provider through the gateway (pure):
 * its Bedrock or Vertex mode, the gateway as the provider's base URL, and its own cloud
 * authentication skipped (the gateway signs or adds the token on the host). No credential, no
 * AWS_* or GOOGLE_* variable. The CLI in Bedrock mode with its authentication skipped needs no
 * region but for one thing: the prefix of its default models' cross-region inference profiles
 * (`us.anthropic.…`, `eu.anthropic.…`), which it takes from the region and would take as `us`
 * without one, so a run in eu-west-1 asked Bedrock there for a `us.` profile and failed. The
 * prefix is given by itself instead (ANTHROPIC_BEDROCK_REGION_PREFIX, which 2.1.232 to 2.1.332
 * read), worked out from the region as the CLI does.
 */
import type { ProviderSettings } from './provider-inputs.js'

export function providerCliEnv(
  settings: Pick<ProviderSettings, 'provider' | 'vertex' | 'awsRegion'>,
  gatewayUrl: string
): Record<string, string> {
  if (settings.provider === 'bedrock') {
    return {
      CLAUDE_CODE_USE_BEDROCK: '1',
      ANTHROPIC_BEDROCK_BASE_URL: gatewayUrl,
      CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
      ...(settings.awsRegion
        ? { ANTHROPIC_BEDROCK_REGION_PREFIX: bedrockProfilePrefix(settings.awsRegion) }
        : {})
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

/**
 * The inference-profile prefix of a region, as the CLI maps it (read from 2.1.330): GovCloud,
 * the US, Europe, Asia-Pacific, and the global profiles for every other region.
 */
export function bedrockProfilePrefix(region: string): string {
  if (region.startsWith('us-gov-')) return 'us-gov'
  if (region.startsWith('us-')) return 'us'
  if (region.startsWith('eu-')) return 'eu'
  if (region.startsWith('ap-')) return 'apac'
  return 'global'
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
