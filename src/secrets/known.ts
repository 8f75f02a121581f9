import type { Settings } from '../settings.js'
import type { KnownSecret, KnownSecrets } from './scan.js'

/**
 * The run's known secret values: what the secret scan looks for by value (and in its encoded
 * forms), whatever format it has. Built from the settings and from what the credential shield
 * found in the working tree (src/credentials/).
 */

/** `env` names whose values are taken for credentials: `*TOKEN*`, `*SECRET*`, `*KEY*`, `*PASSWORD*`. */
export function isCredentialName(name: string): boolean {
  return /TOKEN|SECRET|KEY|PASSWORD|PASSWD/i.test(name)
}

/**
 * Runner variables that hold a credential whenever they are set. They never enter the sandbox,
 * but one printed by an earlier step into a file the agent can read must not be published.
 */
const RUNNER_CREDENTIALS = [
  'GITHUB_TOKEN',
  'GH_TOKEN',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_CLIENT_SECRET',
  'NPM_TOKEN',
  'NODE_AUTH_TOKEN'
]

/** A set of known secrets, one entry per distinct value. */
export function knownSecrets(values: ReadonlyArray<KnownSecret | undefined>): KnownSecrets {
  const byValue = new Map<string, KnownSecret>()
  for (const entry of values) {
    const value = entry?.value.trim()
    if (!entry || !value || byValue.has(value)) continue
    byValue.set(value, { value, source: entry.source })
  }
  return { values: [...byValue.values()] }
}

/** Adds more values (found later, e.g. in the working tree) to a set. */
export function withKnownSecrets(
  set: KnownSecrets,
  more: ReadonlyArray<KnownSecret | undefined>
): KnownSecrets {
  return knownSecrets([...set.values, ...more])
}

/** The values in the runner's environment under the fixed credential names above. */
export function runnerCredentials(env: NodeJS.ProcessEnv): KnownSecret[] {
  return RUNNER_CREDENTIALS.flatMap(name => {
    const value = env[name]
    return value ? [{ value, source: `runner:${name}` }] : []
  })
}

/**
 * The main action's known secrets: the API key or OAuth token, the GitHub token, the `env`
 * input's values under credential-like names, and the runner's own credential variables.
 */
export function knownSecretsFromSettings(
  settings: Settings,
  env: NodeJS.ProcessEnv = process.env
): KnownSecrets {
  const { credentials, publish, sandbox } = settings
  return knownSecrets([
    credentials.apiKey ? { value: credentials.apiKey, source: 'anthropic-api-key' } : undefined,
    credentials.oauthToken
      ? { value: credentials.oauthToken, source: 'claude-code-oauth-token' }
      : undefined,
    publish.githubToken ? { value: publish.githubToken, source: 'github-token' } : undefined,
    credentials.authToken
      ? { value: credentials.authToken, source: 'anthropic-auth-token' }
      : undefined,
    ...Object.entries(credentials.customHeaders ?? {}).map(([name, value]) => ({
      value,
      source: `anthropic-custom-headers:${name}`
    })),
    ...Object.entries(sandbox.env)
      .filter(([name]) => isCredentialName(name))
      .map(([name, value]) => ({ value, source: `env:${name}` })),
    ...runnerCredentials(env)
  ])
}

/**
 * The publish action's known secrets: its GitHub token, and the job's environment under
 * credential-like names (what the workflow put in `env:`), except the action's own inputs.
 */
export function knownSecretsForPublish(
  githubToken: string | undefined,
  env: NodeJS.ProcessEnv = process.env
): KnownSecrets {
  return knownSecrets([
    githubToken ? { value: githubToken, source: 'github-token' } : undefined,
    ...Object.entries(env)
      .filter(([name]) => !name.startsWith('INPUT_') && !name.startsWith('STATE_'))
      .filter(([name]) => isCredentialName(name))
      .map(([name, value]) => (value ? { value, source: `env:${name}` } : undefined)),
    ...runnerCredentials(env)
  ])
}
