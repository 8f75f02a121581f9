/**
 * The provider seam on the host: the gateway with each provider against the stand-ins of
 * __tests__/servers/provider-fronts.ts (real HTTP, real signing, real event-stream frames), and
 * the pure parts (inputs, the CLI's environment, the token cache, the policy on each shape).
 */
import { describe, expect, it } from '@jest/globals'
import { request as httpRequest } from 'node:http'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startGateway } from '../../src/api-door/gateway.js'
import { bedrockProvider, checkBedrockRequest } from '../../src/api-door/providers/bedrock.js'
import { EventStreamTap } from '../../src/api-door/providers/bedrock-stream.js'
import { bedrockProfilePrefix, providerCliEnv } from '../../src/api-door/providers/cli-env.js'
import {
  parseCustomHeaders,
  readProviderSettings
} from '../../src/api-door/providers/provider-inputs.js'
import { TokenCache } from '../../src/api-door/providers/token-cache.js'
import { checkVertexRequest, vertexProvider } from '../../src/api-door/providers/vertex.js'
import { ConfigurationError } from '../../src/errors.js'
import { MODEL_PRICES, priceFor } from '../../src/api-door/pricing.js'
import { containerEnv } from '../../src/sandbox/run-args.js'
import { bedrockChunkFrame, startFakeBedrock, startFakeVertex } from '../servers/provider-fronts.js'

const AWS = { accessKeyId: 'AKIAUNITTEST', secretAccessKey: 'unit/secret', sessionToken: 'sess' }
const POLICY = { webSearch: false }

function post(
  socketPath: string,
  urlPath: string,
  body: unknown
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const text = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath,
        path: urlPath,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'placeholder' }
      },
      res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks)
          })
        )
      }
    )
    req.on('error', reject)
    req.end(text)
  })
}

const socket = (): string =>
  path.join(mkdtempSync(path.join(os.tmpdir(), 'providers-unit-')), 'gw.sock')

const bedrockBody = (extra: Record<string, unknown> = {}) => ({
  anthropic_version: 'bedrock-2023-05-31',
  anthropic_beta: ['interleaved-thinking-2025-05-14'],
  max_tokens: 64,
  messages: [{ role: 'user', content: 'hi' }],
  tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
  ...extra
})

describe('Bedrock through the gateway', () => {
  it('signs with SigV4 (the stand-in recomputes it), streams event-stream frames, reads their usage', async () => {
    const bedrock = await startFakeBedrock(
      { turns: [{ text: 'signed', usage: { input_tokens: 1000, output_tokens: 20 } }] },
      { credentials: AWS, region: 'us-east-1' }
    )
    const gateway = await startGateway({
      socketPath: socket(),
      upstream: bedrock.url,
      provider: bedrockProvider({ region: 'us-east-1', credentials: async () => AWS })
    })
    try {
      const answer = await post(
        gateway.socketPath,
        '/model/us.anthropic.claude-opus-5-5/invoke-with-response-stream',
        bedrockBody()
      )
      expect(answer.status).toBe(200)
      expect(String(answer.headers['content-type'])).toContain('vnd.amazon.eventstream')
      expect(bedrock.requests.map(r => r.status)).toEqual([200])
      // The CLI's placeholder key never went upstream; the model went in the path, not the body.
      expect(bedrock.requests[0]?.headers['x-api-key']).toBeUndefined()
      expect(bedrock.api.requests[0]?.body).toMatchObject({ model: 'us.anthropic.claude-opus-5-5' })
      const figures = gateway.figures()
      expect(figures.inputTokens).toBe(1000)
      expect(figures.outputTokens).toBe(20)
      // claude-opus-5-5: $4 in, $20 out per million.
      expect(figures.costUsd).toBeCloseTo(0.0044, 6)
      expect(figures.lastTurnStopReason).toBe('end_turn')
    } finally {
      await gateway.close()
      await bedrock.close()
    }
  })

  it('a wrong secret is refused by the stand-in, and the gateway reports a credentials problem', async () => {
    const bedrock = await startFakeBedrock(
      { turns: [{ text: 'never' }] },
      { credentials: AWS, region: 'us-east-1' }
    )
    const gateway = await startGateway({
      socketPath: socket(),
      upstream: bedrock.url,
      provider: bedrockProvider({
        region: 'us-east-1',
        credentials: async () => ({ ...AWS, secretAccessKey: 'wrong' })
      })
    })
    try {
      const answer = await post(
        gateway.socketPath,
        '/model/us.anthropic.claude-opus-5-5/invoke',
        bedrockBody()
      )
      expect(answer.status).toBe(403)
      expect(answer.headers['x-should-retry']).toBe('false')
      expect(bedrock.requests[0]?.refused).toBe('InvalidSignatureException')
      expect(gateway.figures().credentialsProblem).toContain('InvalidSignatureException')
    } finally {
      await gateway.close()
      await bedrock.close()
    }
  })

  it('the stand-in refuses an unsigned request', async () => {
    const bedrock = await startFakeBedrock(
      { turns: [{ text: 'never' }] },
      { credentials: AWS, region: 'us-east-1' }
    )
    try {
      const response = await fetch(`${bedrock.url}/model/x/invoke`, {
        method: 'POST',
        body: JSON.stringify(bedrockBody())
      })
      expect(response.status).toBe(403)
      expect(bedrock.api.requests).toEqual([])
    } finally {
      await bedrock.close()
    }
  })

  it('the policy holds on the Bedrock shape: body betas, fields, tools; control-plane paths refused', () => {
    const check = (urlPath: string, body: unknown) =>
      checkBedrockRequest(
        { method: 'POST', path: urlPath, headers: {}, body: Buffer.from(JSON.stringify(body)) },
        POLICY
      )
    const ok = check('/model/us.anthropic.claude-opus-5-5/invoke', bedrockBody())
    expect(ok.allowed).toBe(true)
    if (ok.allowed) {
      expect(JSON.parse(ok.body)).toMatchObject({
        anthropic_version: 'bedrock-2023-05-31',
        anthropic_beta: ['interleaved-thinking-2025-05-14']
      })
      expect(JSON.parse(ok.body).model).toBeUndefined()
    }
    const refusedRule = (verdict: ReturnType<typeof check>) =>
      verdict.allowed ? 'allowed' : verdict.rule
    expect(
      refusedRule(
        check('/model/m/invoke', bedrockBody({ anthropic_beta: ['mcp-client-2025-04-04'] }))
      )
    ).toBe('beta mcp-client-2025-04-04')
    expect(refusedRule(check('/model/m/invoke', bedrockBody({ mcp_servers: [] })))).toBe(
      'field mcp_servers'
    )
    expect(
      refusedRule(
        check(
          '/model/m/invoke',
          bedrockBody({ tools: [{ type: 'web_fetch_20250910', name: 'f' }] })
        )
      )
    ).toBe('tool web_fetch_20250910')
    expect(refusedRule(check('/model/m/invoke', bedrockBody({ anthropic_version: 'x' })))).toBe(
      'anthropic_version'
    )
    expect(refusedRule(check('/model/m/invoke', bedrockBody({ model: 'other' })))).toBe(
      'field model'
    )
    expect(refusedRule(check('/inference-profiles', {}))).toBe('path POST /inference-profiles')
    expect(refusedRule(check('/model/m/converse', bedrockBody()))).toBe(
      'path POST /model/m/converse'
    )
  })
})

describe('the event-stream tap', () => {
  const events = [
    {
      type: 'message_start',
      message: { model: 'claude-opus-5-5', usage: { input_tokens: 7, output_tokens: 1 } }
    },
    {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'x'.repeat(5000) }
    },
    { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 42 } }
  ]
  const stream = Buffer.concat(events.map(e => Buffer.from(bedrockChunkFrame(JSON.stringify(e)))))

  it('reads usage whatever the chunking, one byte at a time included', () => {
    for (const size of [1, 3, 17, 4096, stream.length]) {
      const tap = new EventStreamTap()
      for (let i = 0; i < stream.length; i += size) tap.push(stream.subarray(i, i + size))
      expect(tap.finish()).toEqual({
        model: 'claude-opus-5-5',
        usage: { input_tokens: 7, output_tokens: 42 },
        stopReason: 'tool_use'
      })
    }
  })

  it('stops reading at a corrupt frame without throwing', () => {
    const tap = new EventStreamTap()
    const bad = Buffer.from(stream)
    bad[20] = (bad[20] ?? 0) ^ 0xff // inside the first frame: its CRC fails
    tap.push(bad)
    expect(tap.finish().usage).toBeUndefined()
  })
})

describe('Vertex through the gateway', () => {
  it('adds the bearer token, maps the path under /v1, and only the configured project passes', async () => {
    const place = { projectId: 'proj-21', region: 'us-east5' }
    const vertex = await startFakeVertex(
      { turns: [{ text: 'vertex' }] },
      { project: place.projectId, region: place.region, validToken: t => t === 'ya29.good' }
    )
    const gateway = await startGateway({
      socketPath: socket(),
      upstream: vertex.url,
      provider: vertexProvider(place, async () => 'ya29.good')
    })
    const body = {
      anthropic_version: 'vertex-2023-10-16',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }]
    }
    try {
      const good = await post(
        gateway.socketPath,
        '/v1/projects/proj-21/locations/us-east5/publishers/anthropic/models/claude-opus-5-5:streamRawPredict',
        body
      )
      expect(good.status).toBe(200)
      expect(good.body.toString()).toContain('message_stop')
      expect(vertex.requests[0]?.path).toBe(
        '/v1/projects/proj-21/locations/us-east5/publishers/anthropic/models/claude-opus-5-5:streamRawPredict'
      )
      expect(gateway.figures().turns).toBe(0)
      expect(gateway.figures().inputTokens).toBeGreaterThan(0)
      const other = await post(
        gateway.socketPath,
        '/v1/projects/someone-else/locations/us-east5/publishers/anthropic/models/claude-opus-5-5:rawPredict',
        body
      )
      // Refused as an invalid request (not a 403 the CLI would blame on authentication).
      expect(other.status).toBe(400)
      expect(vertex.requests).toHaveLength(1)
    } finally {
      await gateway.close()
      await vertex.close()
    }
  })

  it('a token Vertex refuses (401) is a credentials problem, not retried', async () => {
    const place = { projectId: 'proj-21', region: 'us-east5' }
    const vertex = await startFakeVertex(
      { turns: [{ text: 'never' }] },
      { project: place.projectId, region: place.region, validToken: () => false }
    )
    const gateway = await startGateway({
      socketPath: socket(),
      upstream: vertex.url,
      provider: vertexProvider(place, async () => 'ya29.revoked')
    })
    try {
      const answer = await post(
        gateway.socketPath,
        '/v1/projects/proj-21/locations/us-east5/publishers/anthropic/models/claude-opus-5-5:rawPredict',
        { anthropic_version: 'vertex-2023-10-16', max_tokens: 1, messages: [] }
      )
      expect(answer.status).toBe(401)
      expect(answer.headers['x-should-retry']).toBe('false')
      const problem = gateway.figures().credentialsProblem ?? ''
      expect(problem).toContain('Google Vertex AI (proj-21, us-east5) refused')
      expect(problem).toContain('UNAUTHENTICATED')
      expect(problem).toContain('roles/aiplatform.user')
    } finally {
      await gateway.close()
      await vertex.close()
    }
  })

  it('the policy holds on the Vertex shape', () => {
    const verdict = checkVertexRequest(
      {
        method: 'POST',
        path: '/v1/projects/p1/locations/r1/publishers/anthropic/models/m:rawPredict',
        headers: { 'anthropic-beta': 'files-api-2025-04-14' },
        body: Buffer.from(
          JSON.stringify({ anthropic_version: 'vertex-2023-10-16', max_tokens: 1, messages: [] })
        )
      },
      POLICY,
      { projectId: 'p1', region: 'r1' }
    )
    expect(verdict.allowed ? 'allowed' : verdict.rule).toBe('beta files-api-2025-04-14')
  })
})

describe('the token cache', () => {
  it('serves a token while young, refreshes in the background when old, waits when nearly expired', async () => {
    let now = 0
    let issued = 0
    const cache = new TokenCache(
      async () => ({ token: `t${++issued}`, expiresAt: now + 20_000 }),
      () => undefined,
      () => now
    )
    expect(await cache.get()).toBe('t1')
    now = 9_000 // more than half its life left
    expect(await cache.get()).toBe('t1')
    now = 12_000 // in its last half: the old one now, a new one fetched meanwhile
    expect(await cache.get()).toBe('t1')
    await new Promise(resolve => setImmediate(resolve))
    expect(await cache.get()).toBe('t2')
    now = 12_000 + 19_000 // t2 nearly expired: wait for t3
    expect(await cache.get()).toBe('t3')
    expect(cache.exchanges).toBe(3)
  })

  it('a failed exchange when the token has expired is an error, not a stale token', async () => {
    let now = 0
    let fail = false
    const cache = new TokenCache(
      async () => {
        if (fail) throw new Error('invalid_grant')
        return { token: 'only', expiresAt: now + 10_000 }
      },
      () => undefined,
      () => now
    )
    await cache.get()
    fail = true
    now = 20_000
    await expect(cache.get()).rejects.toThrow('invalid_grant')
  })
})

describe("the container's environment", () => {
  it('in a provider mode holds the mode and no placeholder key', () => {
    const env = containerEnv({
      name: 'n',
      runId: 'r',
      image: 'i',
      workspace: '/w',
      gitPath: '/w/.git',
      socketDir: '/s',
      user: { uid: 1000, gid: 1000 },
      home: '/home/agent',
      network: 'restricted',
      proxy: true,
      memory: '1g',
      cpus: '1',
      pidsLimit: 10,
      userEnv: {},
      providerEnv: providerCliEnv({ provider: 'bedrock' }, 'http://127.0.0.1:8080'),
      command: []
    })
    expect(env.CLAUDE_CODE_USE_BEDROCK).toBe('1')
    expect(env.ANTHROPIC_API_KEY).toBeUndefined()
    expect(Object.keys(env).filter(name => /^(AWS_|GOOGLE_|ACTIONS_)/.test(name))).toEqual([])
  })
})

describe("prices for the providers' model ids", () => {
  it('Bedrock inference profiles and Vertex ids price as their Anthropic models', () => {
    for (const [id, model] of [
      ['us.anthropic.claude-opus-5-5', 'claude-opus-5-5'],
      ['us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5'],
      ['eu.anthropic.claude-haiku-4-5-20251001-v1:0', 'claude-haiku-4-5'],
      ['anthropic.claude-3-5-sonnet-20241022-v2:0', 'claude-3-5-sonnet'],
      ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
      ['claude-opus-4-1@20250805', 'claude-opus-4-1']
    ] as const) {
      expect([id, priceFor(id, MODEL_PRICES)]).toEqual([id, MODEL_PRICES[model]])
    }
  })
})

describe('provider inputs', () => {
  const reader =
    (inputs: Record<string, string>) =>
    (name: string): string =>
      inputs[name] ?? ''

  it('bedrock takes AWS_REGION by default and implies the region endpoint', () => {
    const settings = readProviderSettings(reader({ provider: 'bedrock' }), {
      AWS_REGION: 'eu-west-1'
    })
    expect(settings).toMatchObject({
      provider: 'bedrock',
      awsRegion: 'eu-west-1',
      defaultBaseUrl: 'https://bedrock-runtime.eu-west-1.amazonaws.com'
    })
    expect(() => readProviderSettings(reader({ provider: 'bedrock' }), {})).toThrow(
      ConfigurationError
    )
  })

  it('vertex takes GOOGLE_CLOUD_PROJECT and us-east5 by default', () => {
    expect(
      readProviderSettings(reader({ provider: 'vertex' }), { GOOGLE_CLOUD_PROJECT: 'my-proj-1' })
    ).toMatchObject({
      vertex: { projectId: 'my-proj-1', region: 'us-east5' },
      defaultBaseUrl: 'https://us-east5-aiplatform.googleapis.com/v1'
    })
  })

  it('workload identity needs both the rule and the organization; audience defaults to the API', () => {
    expect(() =>
      readProviderSettings(reader({ 'anthropic-federation-rule-id': 'fdrl_1' }), {})
    ).toThrow('anthropic-organization-id')
    expect(
      readProviderSettings(
        reader({ 'anthropic-federation-rule-id': 'fdrl_1', 'anthropic-organization-id': 'org_1' }),
        {}
      ).federation
    ).toEqual({ ruleId: 'fdrl_1', organizationId: 'org_1', audience: 'https://api.anthropic.com' })
  })

  it('custom headers are Name: value lines; framing headers are refused', () => {
    expect(parseCustomHeaders('X-Tenant: a: b\n# note\n\nx-tags: ci')).toEqual({
      'x-tenant': 'a: b',
      'x-tags': 'ci'
    })
    expect(() => parseCustomHeaders('Host: evil')).toThrow(ConfigurationError)
    expect(() => parseCustomHeaders('no colon')).toThrow(ConfigurationError)
  })

  it("the CLI's environment holds no credential and no AWS_/GOOGLE_ variable", () => {
    for (const provider of ['bedrock', 'vertex', 'anthropic'] as const) {
      const env = providerCliEnv(
        { provider, vertex: { projectId: 'p', region: 'us-east5' } },
        'http://127.0.0.1:8080'
      )
      expect(Object.keys(env).filter(name => /^(AWS_|GOOGLE_)/.test(name))).toEqual([])
    }
    expect(providerCliEnv({ provider: 'bedrock' }, 'http://127.0.0.1:8080')).toMatchObject({
      CLAUDE_CODE_USE_BEDROCK: '1',
      CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
      ANTHROPIC_BEDROCK_BASE_URL: 'http://127.0.0.1:8080'
    })
  })

  it("the CLI picks the region's inference profiles without being given the region", () => {
    const prefix = (awsRegion: string) =>
      providerCliEnv({ provider: 'bedrock', awsRegion }, 'http://127.0.0.1:8080')
        .ANTHROPIC_BEDROCK_REGION_PREFIX
    expect(prefix('eu-west-1')).toBe('eu')
    expect(prefix('eu-central-1')).toBe('eu')
    expect(prefix('us-east-1')).toBe('us')
    expect(prefix('us-gov-west-1')).toBe('us-gov')
    expect(prefix('ap-northeast-1')).toBe('apac')
    expect(prefix('ca-central-1')).toBe('global')
    expect(bedrockProfilePrefix('sa-east-1')).toBe('global')
  })
})
