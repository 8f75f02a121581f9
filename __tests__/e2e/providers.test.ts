/**
 * Issue 21, keyless on every provider, through dist/ with the real CLI in the real container and
 * the network restricted: Amazon Bedrock (the gateway signs with SigV4 from the job's AWS
 * credentials), Google Vertex AI (an access token from an external_account credentials file, as
 * google-github-actions/auth writes it), Anthropic's workload identity federation (the job's OIDC
 * token exchanged for tokens that live 20 s) and an LLM gateway (bearer token and custom header).
 * The stand-ins (__tests__/servers/provider-fronts.ts) check the credentials the real services
 * would; a scripted agent looks for any credential inside.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { baseInputs, makeRepo } from '../helpers/e2e.js'
import { runAction, runPost, type ActionRun } from '../helpers/run-action.js'
import type { Turn } from '../servers/fake-anthropic.js'
import {
  startFakeAnthropicIdentity,
  startFakeBedrock,
  startFakeGoogleSts,
  startFakeLlmGateway,
  startFakeOidc,
  startFakeVertex,
  type Front
} from '../servers/provider-fronts.js'

const AWS = {
  accessKeyId: 'ASIAE2EPROVIDERTEST1',
  secretAccessKey: 'e2e/SECRET+aws+key+do+not+leak+0123456789',
  sessionToken: 'IQoJb3JpZ2luX2VjE2E2SESSIONTOKEN-do-not-leak-0123456789'
}
const REGION = 'eu-west-1'

/** The runner's environment as aws-actions/configure-aws-credentials leaves it, and no other AWS source. */
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: AWS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
  AWS_SESSION_TOKEN: AWS.sessionToken,
  AWS_REGION: REGION,
  AWS_DEFAULT_REGION: REGION
}
/** Keeps the SDK's chain off this machine's files and off instance metadata (loopback only). */
const AWS_ISOLATION = {
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true'
}

function bash(command: string) {
  return { name: 'Bash', input: { command, description: 'provider probe', timeout: 120_000 } }
}

/**
 * What the agent can see: its environment, every process's environment, and any file under the
 * places it can write or read that holds one of `needles`.
 */
function probe(needles: string[]): string {
  // Base64 in the script, so the CLI's own session files (which hold this command) do not match.
  const decode = needles.map(
    (n, i) => `n${i}=$(echo ${Buffer.from(n).toString('base64')} | base64 -d)`
  )
  const patterns = needles.map((_, i) => `-e "$n${i}"`).join(' ')
  return [
    ...decode,
    '{ env; for p in /proc/[0-9]*; do tr "\\0" "\\n" < $p/environ 2>/dev/null; done; } > /workspace/seen-env.txt',
    `grep -rlF ${patterns} /home /tmp /run /etc /workspace --exclude=seen-env.txt 2>/dev/null > /workspace/seen-files.txt || true`,
    'echo probed > /workspace/probed.txt'
  ].join('\n')
}

function probeTurns(needles: string[]): Turn[] {
  return [
    {
      tools: [
        bash(probe(needles)),
        { name: 'Write', input: { file_path: '/workspace/hello.txt', content: 'hi\n' } }
      ]
    },
    { text: 'Done through the provider.' }
  ]
}

async function run(
  front: Pick<Front, 'close'> | undefined,
  inputs: Record<string, string>,
  env: Record<string, string>,
  repo = makeRepo()
): Promise<{ run: ActionRun; repo: string }> {
  const all = baseInputs({ prompt: 'Do the task.', 'anthropic-api-key': '', ...inputs })
  try {
    const main = await runAction({ inputs: all, workspace: repo, env })
    await runPost(main, { inputs: all, workspace: repo, env })
    return { run: main, repo }
  } finally {
    await front?.close()
  }
}

function expectNothingSeen(
  repo: string,
  needles: string[],
  prefixes: RegExp,
  ignoreFiles?: RegExp
): void {
  const seen = readFileSync(path.join(repo, 'seen-env.txt'), 'utf8')
  expect(seen).toContain('HOME=') // the probe did read the environment
  const names = seen
    .split('\n')
    .map(line => line.split('=')[0] ?? '')
    .filter(name => prefixes.test(name))
  expect([...new Set(names)]).toEqual([])
  for (const needle of needles) expect(seen.includes(needle) ? needle : '').toBe('')
  const files = readFileSync(path.join(repo, 'seen-files.txt'), 'utf8')
    .split('\n')
    .filter(file => file !== '' && !(ignoreFiles?.test(file) ?? false))
  expect(files).toEqual([])
}

describe('Amazon Bedrock', () => {
  it('the real CLI completes a tool-using session, every request signed on the host; nothing AWS-shaped inside', async () => {
    const needles = [AWS.accessKeyId, AWS.secretAccessKey, AWS.sessionToken]
    const bedrock = await startFakeBedrock(
      { turns: probeTurns(needles) },
      { credentials: AWS, region: REGION }
    )
    const { run: result, repo } = await run(
      bedrock,
      { provider: 'bedrock', 'anthropic-base-url': bedrock.url },
      { ...AWS_ENV, ...AWS_ISOLATION }
    )
    expect(result.errors).toEqual([])
    expect(result.outputs.conclusion).toBe('success')
    expect(result.outputs['final-message']).toBe('Done through the provider.')
    expect(readFileSync(result.outputs['patch-path'] ?? '', 'utf8')).toContain('hello.txt')
    // Every request reached the stand-in signed: it recomputed each signature and accepted it.
    const models = bedrock.requests.filter(r => r.path.startsWith('/model/'))
    expect(models.length).toBeGreaterThanOrEqual(2)
    expect(models.filter(r => r.status !== 200)).toEqual([])
    expect(models.every(r => r.headers['x-amz-security-token'] === AWS.sessionToken)).toBe(true)
    expect(models.some(r => r.path.endsWith('/invoke-with-response-stream'))).toBe(true)
    // The region's own inference profiles (eu-west-1: `eu.`), not the CLI's default `us.` ones,
    // which Bedrock there refuses.
    expect(models.map(r => r.path.split('/')[2]).filter(id => !id?.startsWith('eu.'))).toEqual([])
    // The control-plane listing stopped at the gateway.
    expect(bedrock.requests.filter(r => r.path.startsWith('/inference-profiles'))).toEqual([])
    // The host's figures, read from the binary event stream.
    expect(result.outputs['num-turns']).toBe('2')
    expect(Number(result.outputs['cost-usd'])).toBeGreaterThan(0)
    expectNothingSeen(repo, needles, /^(AWS_|AMAZON_|ACTIONS_ID_TOKEN)/)
  }, 300_000)

  it('max-budget-usd stops a looping Bedrock session after the cap, cost from the event stream', async () => {
    // The CLI's Bedrock default here is eu.anthropic.claude-opus-5-5: $4 per million input tokens.
    const usage = { input_tokens: 100_000, output_tokens: 10 }
    const loop = Array.from({ length: 10 }, (_, i) => ({
      tools: [bash(`echo turn ${i} >> /workspace/loop.txt`)],
      usage
    }))
    const bedrock = await startFakeBedrock({ turns: loop }, { credentials: AWS, region: REGION })
    const api = bedrock.api
    const { run: result, repo } = await run(
      bedrock,
      { provider: 'bedrock', 'anthropic-base-url': bedrock.url, 'max-budget-usd': '1' },
      { ...AWS_ENV, ...AWS_ISOLATION }
    )
    expect(api.mainRequests()).toHaveLength(3)
    expect(readFileSync(path.join(repo, 'loop.txt'), 'utf8').trim().split('\n')).toHaveLength(3)
    expect(result.outputs.conclusion).toBe('failure')
    expect(result.errors.join('\n')).toContain('max-budget-usd (1)')
    expect(result.outputs['cost-usd']).toBe('1.2006')
    expect(result.outputs['input-tokens']).toBe('300000')
  }, 300_000)

  it('an upstream 403 (no model access) is reported as a credentials problem; patch and transcript kept', async () => {
    const bedrock = await startFakeBedrock(
      { turns: [{ text: 'never' }] },
      { credentials: AWS, region: REGION, denyModelAccess: true }
    )
    const { run: result } = await run(
      bedrock,
      { provider: 'bedrock', 'anthropic-base-url': bedrock.url },
      { ...AWS_ENV, ...AWS_ISOLATION }
    )
    expect(result.outputs.conclusion).toBe('failure')
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('credentials problem')
    expect(result.errors[0]).toContain('AccessDeniedException')
    expect(result.errors[0]).toContain('bedrock:InvokeModel')
    expect(existsSync(result.outputs['execution-file'] ?? '')).toBe(true)
    expect(existsSync(result.outputs['patch-path'] ?? '')).toBe(true)
    // Refused once per request kind, not retried ten times.
    expect(bedrock.requests.filter(r => r.refused).length).toBeLessThanOrEqual(4)
  }, 300_000)

  it('with no AWS credentials: one error naming configure-aws-credentials and id-token: write', async () => {
    const { run: result } = await run(
      undefined,
      { provider: 'bedrock', 'aws-region': REGION },
      AWS_ISOLATION
    )
    expect(result.exitCode).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('no AWS credentials')
    expect(result.errors[0]).toContain('aws-actions/configure-aws-credentials')
    expect(result.errors[0]).toContain('id-token: write')
    expect(result.stdout).not.toMatch(/\n\s+at /) // no stack trace
  }, 60_000)
})

describe('Google Vertex AI', () => {
  const project = 'e2e-project-21'
  const region = 'us-east5'

  it('an external_account file from google-github-actions/auth: the CLI completes; no credential inside, the file unreadable there and not in the patch', async () => {
    const oidc = await startFakeOidc()
    const sts = await startFakeGoogleSts(token => oidc.tokens.includes(token))
    const issued = (token: string): boolean => sts.issued.some(i => i.accessToken === token)
    const needles = [oidc.requestToken]
    const vertex = await startFakeVertex(
      { turns: probeTurns(needles) },
      { project, region, validToken: issued }
    )
    const repo = makeRepo()
    // As google-github-actions/auth writes it (create_credentials_file: true, the default).
    const credsFile = path.join(repo, 'gha-creds-0123456789abcdef.json')
    const audience =
      '//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/octo'
    writeFileSync(
      credsFile,
      JSON.stringify({
        type: 'external_account',
        audience,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: sts.tokenUrl,
        credential_source: {
          url: `${oidc.requestUrl}&audience=${encodeURIComponent(`https:${audience}`)}`,
          headers: { Authorization: `Bearer ${oidc.requestToken}` },
          format: { type: 'json', subject_token_field_name: 'value' }
        }
      })
    )
    try {
      const { run: result } = await run(
        vertex,
        { provider: 'vertex', 'anthropic-base-url': vertex.url, 'vertex-region': region },
        {
          GOOGLE_APPLICATION_CREDENTIALS: credsFile,
          CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE: credsFile,
          GOOGLE_GHA_CREDS_PATH: credsFile,
          GOOGLE_CLOUD_PROJECT: project,
          CLOUDSDK_CORE_PROJECT: project,
          ACTIONS_ID_TOKEN_REQUEST_URL: oidc.requestUrl,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken
        },
        repo
      )
      expect(result.errors).toEqual([])
      expect(result.outputs.conclusion).toBe('success')
      const calls = vertex.requests
      expect(calls.length).toBeGreaterThanOrEqual(2)
      expect(calls.filter(r => r.status !== 200)).toEqual([])
      expect(calls.some(r => r.path.endsWith(':streamRawPredict'))).toBe(true)
      expect(sts.issued.length).toBeGreaterThanOrEqual(1)
      expect(Number(result.outputs['cost-usd'])).toBeGreaterThan(0)
      const patch = readFileSync(result.outputs['patch-path'] ?? '', 'utf8')
      expect(patch).toContain('hello.txt')
      expect(patch).not.toMatch(/^diff --git a\/gha-creds/m)
      expect(patch).not.toContain(oidc.requestToken)
      const tokens = sts.issued.map(i => i.accessToken)
      // Nothing inside holds them, the credentials file google-github-actions/auth wrote into
      // the workspace included: the credential shield leaves the agent an empty file there.
      expectNothingSeen(
        repo,
        [...needles, ...tokens, oidc.requestToken],
        /^(GOOGLE_|CLOUDSDK_|GCLOUD_|ACTIONS_ID_TOKEN)/
      )
      // The host's copy is untouched: later steps of the job still use it.
      expect(readFileSync(credsFile, 'utf8')).toContain('external_account')
    } finally {
      await oidc.close()
      await sts.close()
    }
  }, 300_000)

  it('with no Google credentials: one error naming google-github-actions/auth', async () => {
    const { run: result } = await run(
      undefined,
      { provider: 'vertex', 'vertex-project-id': project },
      { METADATA_SERVER_DETECTION: 'none', CLOUDSDK_CONFIG: '/nonexistent/gcloud' }
    )
    expect(result.exitCode).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('no Google credentials')
    expect(result.errors[0]).toContain('google-github-actions/auth')
    expect(result.errors[0]).toContain('id-token: write')
  }, 60_000)

  it('with no project: one error naming vertex-project-id', async () => {
    const { run: result } = await run(undefined, { provider: 'vertex' }, {})
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('vertex-project-id')
  }, 60_000)
})

describe('Anthropic workload identity federation', () => {
  const rule = 'fdrl_e2e21'
  const org = 'org_e2e21'

  it('tokens that live 20 s: a run lasting longer keeps working; each exchange carries the rule and organization', async () => {
    const oidc = await startFakeOidc()
    const identity = await startFakeAnthropicIdentity(
      {
        turns: [
          // A wait the CLI does not refuse (it blocks a leading long `sleep`).
          { tools: [bash('timeout 35 tail -f /dev/null; echo one > /workspace/one.txt')] },
          { tools: [bash('timeout 35 tail -f /dev/null; echo two > /workspace/two.txt')] },
          { text: 'Slow and steady.' }
        ]
      },
      {
        expiresInSeconds: 20,
        acceptAssertion: jwt => oidc.tokens.includes(jwt),
        federationRuleId: rule,
        organizationId: org
      }
    )
    const started = Date.now()
    try {
      const { run: result, repo } = await run(
        identity,
        {
          'anthropic-base-url': identity.url,
          'anthropic-federation-rule-id': rule,
          'anthropic-organization-id': org,
          'anthropic-workspace-id': 'wrkspc_e2e'
        },
        {
          ACTIONS_ID_TOKEN_REQUEST_URL: oidc.requestUrl,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken
        }
      )
      expect(result.errors).toEqual([])
      expect(result.outputs.conclusion).toBe('success')
      expect(readFileSync(path.join(repo, 'two.txt'), 'utf8')).toBe('two\n')
      expect(Date.now() - started).toBeGreaterThan(60_000)
      // No Messages request was refused for an expired or missing token.
      const messages = identity.requests.filter(r => r.path.startsWith('/v1/messages'))
      expect(messages.length).toBeGreaterThanOrEqual(3)
      expect(messages.filter(r => r.status !== 200)).toEqual([])
      // Exchanged again and again as the tokens aged.
      expect(identity.exchanges.length).toBeGreaterThanOrEqual(3)
      for (const exchange of identity.exchanges) {
        expect(exchange.body).toMatchObject({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          federation_rule_id: rule,
          organization_id: org,
          workspace_id: 'wrkspc_e2e'
        })
        expect(exchange.beta).toContain('oidc-federation-2026-04-01')
      }
      expect(new Set(oidc.audiences)).toEqual(new Set(['https://api.anthropic.com']))
    } finally {
      await oidc.close()
    }
  }, 400_000)

  it('a failed exchange: one error naming the federation rule; nothing started', async () => {
    const oidc = await startFakeOidc()
    const identity = await startFakeAnthropicIdentity(
      { turns: [{ text: 'never' }] },
      {
        expiresInSeconds: 60,
        acceptAssertion: () => false,
        federationRuleId: rule,
        organizationId: org
      }
    )
    try {
      const { run: result } = await run(
        identity,
        {
          'anthropic-base-url': identity.url,
          'anthropic-federation-rule-id': rule,
          'anthropic-organization-id': org
        },
        {
          ACTIONS_ID_TOKEN_REQUEST_URL: oidc.requestUrl,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken
        }
      )
      expect(result.exitCode).toBe(1)
      expect(result.errors).toHaveLength(1)
      expect(result.errors[0]).toContain('token exchange failed')
      expect(result.errors[0]).toContain('invalid_grant')
      expect(result.errors[0]).toContain('federation rule')
      expect(identity.api.requests).toEqual([])
    } finally {
      await oidc.close()
    }
  }, 60_000)

  it('without id-token: write: one error saying so', async () => {
    const { run: result } = await run(
      undefined,
      { 'anthropic-federation-rule-id': rule, 'anthropic-organization-id': org },
      {}
    )
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('id-token: write')
  }, 60_000)
})

describe('an LLM gateway', () => {
  afterAll(() => undefined)
  it('gets its bearer token and custom header from the host; the values are masked', async () => {
    const token = 'sk-litellm-e2e-SECRET-0123456789'
    const header = { name: 'X-Corp-Tenant', value: 'tenant-secret-0123456789' }
    const gateway = await startFakeLlmGateway(
      { turns: probeTurns([token, header.value]) },
      { token, header }
    )
    const { run: result, repo } = await run(
      gateway,
      {
        'anthropic-base-url': gateway.url,
        'anthropic-auth-token': token,
        'anthropic-custom-headers': `${header.name}: ${header.value}`
      },
      {}
    )
    expect(result.errors).toEqual([])
    expect(result.outputs.conclusion).toBe('success')
    expect(gateway.requests.length).toBeGreaterThanOrEqual(2)
    expect(gateway.requests.filter(r => r.status !== 200)).toEqual([])
    expect(result.stdout).toContain(`::add-mask::${token}`)
    expect(result.stdout).toContain(`::add-mask::${header.value}`)
    expectNothingSeen(repo, [token, header.value], /^(ANTHROPIC_AUTH_TOKEN)$/)
  }, 300_000)
})
