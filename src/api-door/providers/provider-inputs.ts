/**
 * The provider inputs, parsed and validated (pure): `provider`, `anthropic-auth-token`,
 * `anthropic-custom-headers`, the workload identity inputs, `aws-region`, `vertex-project-id`,
 * `vertex-region`; and the default upstream each provider implies.
 */
import { ConfigurationError } from '../../errors.js'
import { bedrockUpstreamUrl, vertexUpstreamUrl } from './upstream-urls.js'
import { PROVIDERS, type ProviderName } from './provider.js'
import { DEFAULT_OIDC_AUDIENCE, type FederationSettings } from './workload-identity.js'

export interface ProviderSettings {
  provider: ProviderName
  /** `anthropic-auth-token`: an LLM gateway's bearer token. */
  authToken?: string
  /** `anthropic-custom-headers`, parsed; values are secrets (masked). */
  customHeaders: Record<string, string>
  /** Workload identity federation, when its rule and organization are given. */
  federation?: FederationSettings
  /** Bedrock's region. */
  awsRegion?: string
  /** Vertex AI's project and region. */
  vertex?: { projectId: string; region: string }
  /** The upstream when `anthropic-base-url` is empty. */
  defaultBaseUrl: string
}

/** Header names the gateway owns (framing) and may not be given as custom headers. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer'
])

/** `anthropic-custom-headers`: one `Name: value` per line (blank lines and `#` comments skipped). */
export function parseCustomHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {}
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    const name = colon > 0 ? line.slice(0, colon).trim() : ''
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw new ConfigurationError(
        `Input \`anthropic-custom-headers\` line ${index + 1} is not \`Name: value\``,
        'Write one header a line, e.g. `x-litellm-tags: ci`'
      )
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new ConfigurationError(
        `Input \`anthropic-custom-headers\` may not set ${name}: the gateway sets it`,
        'Remove that line'
      )
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim()
  })
  return headers
}

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/
const GOOGLE_REGION = /^([a-z]+-[a-z]+\d{1,2}|global)$/
const GOOGLE_PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.:-]{1,100}$/

export function readProviderSettings(
  read: (name: string) => string,
  env: NodeJS.ProcessEnv
): ProviderSettings {
  const input = read('provider').trim() || 'anthropic'
  if (!(PROVIDERS as readonly string[]).includes(input)) {
    throw new ConfigurationError(
      `Input \`provider\` must be one of ${PROVIDERS.join(', ')}, got "${input}"`
    )
  }
  const provider = input as ProviderName
  const authToken = read('anthropic-auth-token').trim() || undefined
  const customHeaders = parseCustomHeaders(read('anthropic-custom-headers'))
  const federation = readFederation(read)
  if (provider !== 'anthropic' && (federation || authToken)) {
    throw new ConfigurationError(
      `Input \`provider\` is ${provider}, but ${federation ? 'workload identity federation inputs' : '`anthropic-auth-token`'} belong to provider anthropic`,
      `Remove them: ${provider === 'bedrock' ? 'Bedrock' : 'Vertex AI'} is reached with the job's ${provider === 'bedrock' ? 'AWS' : 'Google'} credentials`
    )
  }
  if (provider === 'bedrock') {
    const region = read('aws-region').trim() || env.AWS_REGION || env.AWS_DEFAULT_REGION || ''
    if (!region) {
      throw new ConfigurationError(
        'Input `provider` is bedrock, but no region is known: `aws-region` is empty and AWS_REGION is not set',
        'Set `aws-region: us-east-1` (say), or set `aws-region` on the aws-actions/configure-aws-credentials step, which exports AWS_REGION'
      )
    }
    if (!AWS_REGION.test(region)) {
      throw new ConfigurationError(`Input \`aws-region\` is not an AWS region: "${region}"`)
    }
    return {
      provider,
      customHeaders,
      awsRegion: region,
      defaultBaseUrl: bedrockUpstreamUrl(region)
    }
  }
  if (provider === 'vertex') {
    const projectId =
      read('vertex-project-id').trim() ||
      env.GOOGLE_CLOUD_PROJECT ||
      env.GCLOUD_PROJECT ||
      env.CLOUDSDK_CORE_PROJECT ||
      ''
    if (!projectId) {
      throw new ConfigurationError(
        'Input `provider` is vertex, but no project is known: `vertex-project-id` is empty and GOOGLE_CLOUD_PROJECT is not set',
        'Set `vertex-project-id`, or give google-github-actions/auth its `project_id`, which exports GOOGLE_CLOUD_PROJECT'
      )
    }
    if (!GOOGLE_PROJECT.test(projectId)) {
      throw new ConfigurationError(
        `Input \`vertex-project-id\` is not a Google Cloud project id: "${projectId}"`
      )
    }
    const region = read('vertex-region').trim() || env.CLOUD_ML_REGION || 'us-east5'
    if (!GOOGLE_REGION.test(region)) {
      throw new ConfigurationError(
        `Input \`vertex-region\` is not a Google Cloud region: "${region}"`,
        'Give a region such as us-east5 or europe-west1, or global'
      )
    }
    return {
      provider,
      customHeaders,
      vertex: { projectId, region },
      defaultBaseUrl: vertexUpstreamUrl(region)
    }
  }
  return {
    provider,
    customHeaders,
    ...(authToken ? { authToken } : {}),
    ...(federation ? { federation } : {}),
    defaultBaseUrl: 'https://api.anthropic.com'
  }
}

function readFederation(read: (name: string) => string): FederationSettings | undefined {
  const ruleId = read('anthropic-federation-rule-id').trim()
  const organizationId = read('anthropic-organization-id').trim()
  const others = [
    'anthropic-service-account-id',
    'anthropic-workspace-id',
    'anthropic-oidc-audience'
  ].filter(name => read(name).trim() !== '')
  if (!ruleId && !organizationId) {
    if (others.length > 0) {
      throw new ConfigurationError(
        `Input \`${others[0]}\` is set, but workload identity federation needs \`anthropic-federation-rule-id\` and \`anthropic-organization-id\``,
        'Add both (from the Workload identity page of Claude Console), or remove it'
      )
    }
    return undefined
  }
  if (!ruleId || !organizationId) {
    throw new ConfigurationError(
      `Workload identity federation needs both \`anthropic-federation-rule-id\` and \`anthropic-organization-id\`; \`${ruleId ? 'anthropic-organization-id' : 'anthropic-federation-rule-id'}\` is empty`,
      'Copy both from the Workload identity page of Claude Console'
    )
  }
  const serviceAccountId = read('anthropic-service-account-id').trim()
  const workspaceId = read('anthropic-workspace-id').trim()
  return {
    ruleId,
    organizationId,
    ...(serviceAccountId ? { serviceAccountId } : {}),
    ...(workspaceId ? { workspaceId } : {}),
    audience: read('anthropic-oidc-audience').trim() || DEFAULT_OIDC_AUDIENCE
  }
}
