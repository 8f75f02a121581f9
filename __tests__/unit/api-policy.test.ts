// The API door's request policy over a table: every request shape the real CLI sent, at both
// ends of the supported range and at 2.1.330 (recorded in __tests__/fixtures/cli-requests-*.json
// by scripts/record-cli-requests.ts), passes, and each way of making the API reach a third party,
// or the account's data, is refused with the rule that refused it.
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { SUPPORTED_CLI_VERSIONS } from '../../src/agent/cli-versions.js'
import {
  checkRequest,
  CLI_API_SHAPE,
  REFUSED_BETA_FAMILIES,
  MAX_REQUEST_BYTES,
  webSearchAllowed,
  type PolicyOptions
} from '../../src/api-door/api-policy.js'
import { REPO_ROOT } from '../helpers/run-action.js'

interface Recorded {
  run: string
  kind: string
  method: string
  path: string
  'anthropic-beta'?: string
  body: Record<string, unknown>
}

const FIXTURES = path.join(REPO_ROOT, '__tests__', 'fixtures')
const recordings = readdirSync(FIXTURES)
  .filter(name => /^cli-requests-.*\.json$/.test(name))
  .map(name => ({
    version: name.replace(/^cli-requests-(.*)\.json$/, '$1'),
    requests: (
      JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as { requests: Recorded[] }
    ).requests
  }))
const recorded = recordings.flatMap(({ version, requests }) =>
  requests.map(request => ({ ...request, run: `${version} ${request.run}` }))
)

const BETAS = 'claude-code-20250219,interleaved-thinking-2025-05-14'
const MAIN: Record<string, unknown> = {
  model: 'claude-opus-5-5',
  max_tokens: 1000,
  stream: true,
  tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]
}
const WEB_OFF: PolicyOptions = { webSearch: false }
const WEB_ON: PolicyOptions = { webSearch: true }

function check(
  body: unknown,
  options: PolicyOptions = WEB_OFF,
  extra: { path?: string; method?: string; beta?: string; headers?: Record<string, string> } = {}
) {
  return checkRequest(
    {
      method: extra.method ?? 'POST',
      path: extra.path ?? '/v1/messages?beta=true',
      headers: { 'anthropic-beta': extra.beta ?? BETAS, ...extra.headers },
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
    },
    options
  )
}

function withMessage(content: unknown): Record<string, unknown> {
  return { ...MAIN, messages: [{ role: 'user', content }] }
}

describe('what the real CLI sends passes', () => {
  it.each(recorded.map(r => [`${r.run} ${r.kind}`, r] as const))('%s', (_name, request) => {
    const verdict = checkRequest(
      {
        method: request.method,
        path: request.path,
        headers: { 'anthropic-beta': request['anthropic-beta'] ?? '' },
        body: Buffer.from(JSON.stringify(request.body))
      },
      WEB_ON
    )
    expect(verdict).toMatchObject({ allowed: true })
  })

  it('the recordings cover both ends of the supported range', () => {
    const versions = recordings.map(r => r.version)
    expect(versions).toContain(SUPPORTED_CLI_VERSIONS.oldest)
    expect(versions).toContain(SUPPORTED_CLI_VERSIONS.newest)
  })

  it('the recording covers main-loop and web-search requests, with a key and with OAuth', () => {
    expect(new Set(recorded.map(r => r.kind))).toEqual(new Set(['main', 'side']))
    expect(recorded.some(r => r.run.includes(' oauth'))).toBe(true)
    expect(
      recorded.some(r =>
        (r.body.tools as Array<{ type?: string }>).some(t => t.type?.startsWith('web_search'))
      )
    ).toBe(true)
  })

  it('marks agent-loop requests (client tools) and keeps the model', () => {
    const verdict = check(MAIN)
    expect(verdict).toMatchObject({ allowed: true, agentLoop: true, model: 'claude-opus-5-5' })
    expect(check({ ...MAIN, tools: undefined })).toMatchObject({ allowed: true, agentLoop: false })
  })

  it('inline images and documents (base64, text, inline content) pass', () => {
    const inline = withMessage([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } },
      {
        type: 'document',
        source: { type: 'content', content: [{ type: 'text', text: 'inline' }] }
      },
      {
        type: 'tool_result',
        tool_use_id: 't1',
        content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'x' } }]
      }
    ])
    expect(check(inline)).toMatchObject({ allowed: true })
  })
})

describe('what a CLI version adds or drops, harmlessly, passes', () => {
  it.each([
    ['a beta flag no version sent before', 'claude-code-20250219,some-new-feature-2027-01-01'],
    [
      'the oldest supported CLI’s flags',
      'mid-conversation-system-2026-04-07,fallback-credit-2026-06-01'
    ],
    ['no flag at all', '']
  ])('%s', (_name, beta) => {
    expect(check(MAIN, WEB_OFF, { beta })).toMatchObject({ allowed: true })
  })

  it.each([
    ['a number', 3],
    ['a boolean', true],
    ['null', null]
  ])('an unknown top-level field holding %s', (_name, value) => {
    expect(check({ ...MAIN, some_new_knob: value })).toMatchObject({ allowed: true })
  })
})

describe('what would reach a third party is refused', () => {
  const url = { type: 'url', url: 'http://decoy.example/x.png' }
  const file = { type: 'file', file_id: 'file_011' }
  const table: Array<[string, unknown, Partial<Parameters<typeof check>[2]>, string]> = [
    [
      'the MCP connector',
      { ...MAIN, mcp_servers: [{ type: 'url', url: 'https://decoy.example/mcp', name: 'x' }] },
      { beta: 'mcp-client-2025-04-04' },
      'beta mcp-client-2025-04-04'
    ],
    [
      'the MCP connector, without its beta flag',
      { ...MAIN, mcp_servers: [{ type: 'url', url: 'https://decoy.example/mcp', name: 'x' }] },
      {},
      'field mcp_servers'
    ],
    [
      'a web fetch server tool',
      { ...MAIN, tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] },
      {},
      'tool web_fetch_20250910'
    ],
    [
      'a web fetch server tool among client tools',
      {
        ...MAIN,
        tools: [
          { name: 'Bash', input_schema: { type: 'object' } },
          { type: 'web_fetch_20250910', name: 'web_fetch' }
        ]
      },
      {},
      'tool web_fetch_20250910'
    ],
    [
      'a code execution tool',
      { ...MAIN, tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] },
      {},
      'tool code_execution_20250825'
    ],
    ['a container', { ...MAIN, container: 'container_011' }, {}, 'field container'],
    ['an image by URL', withMessage([{ type: 'image', source: url }]), {}, 'source url'],
    [
      'a document by Files API id',
      withMessage([{ type: 'document', source: file }]),
      {},
      'source file'
    ],
    [
      'an image by URL inside a tool result',
      withMessage([
        { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: url }] }
      ]),
      {},
      'source url'
    ],
    [
      'a URL document inside an inline-content document',
      withMessage([
        {
          type: 'document',
          source: { type: 'content', content: [{ type: 'document', source: url }] }
        }
      ]),
      {},
      'source url'
    ],
    [
      'a container upload block',
      withMessage([{ type: 'container_upload', file_id: 'file_011' }]),
      {},
      'block container_upload'
    ],
    [
      'an image by URL in the system prompt',
      { ...MAIN, system: [{ type: 'image', source: url }] },
      {},
      'source url'
    ],
    ['the Files API', MAIN, { path: '/v1/files' }, 'path POST /v1/files'],
    [
      'the Files API, reading',
      undefined,
      { method: 'GET', path: '/v1/files/file_011/content' },
      'path GET /v1/files/file_011/content'
    ],
    ['the Batches API', MAIN, { path: '/v1/messages/batches' }, 'path POST /v1/messages/batches'],
    ['the Skills API', MAIN, { path: '/v1/skills?beta=true' }, 'path POST /v1/skills'],
    [
      'a forbidden beta flag',
      MAIN,
      { beta: `${BETAS},files-api-2025-04-14` },
      'beta files-api-2025-04-14'
    ],
    [
      'the code execution beta',
      MAIN,
      { beta: 'code-execution-2025-08-25' },
      'beta code-execution-2025-08-25'
    ],
    ['a query of its own', MAIN, { path: '/v1/messages?beta=true&x=1' }, 'query'],
    [
      'the MCP connector beta alone',
      MAIN,
      { beta: 'mcp-client-2025-11-20' },
      'beta mcp-client-2025-11-20'
    ],
    ['the web fetch beta', MAIN, { beta: 'web-fetch-2025-09-10' }, 'beta web-fetch-2025-09-10'],
    ['the Skills beta', MAIN, { beta: 'skills-2025-10-02' }, 'beta skills-2025-10-02'],
    ['a malformed beta flag', MAIN, { beta: 'x y' }, 'beta (malformed)'],
    [
      'an unknown field holding a string (an id of stored data looks like any string)',
      { ...MAIN, memory_store: 'memstore_011' },
      {},
      'field memory_store'
    ],
    [
      'an unknown field holding a structure',
      { ...MAIN, connectors: [{ url: 'https://decoy.example/' }] },
      {},
      'field connectors'
    ],
    [
      'a container given as an object',
      { ...MAIN, container: { id: 'c', skills: [] } },
      {},
      'field container'
    ],
    ['a container set to null', { ...MAIN, container: null }, {}, 'field container'],
    [
      'a field named like an inherited property',
      { ...MAIN, constructor: 'x' },
      {},
      'field constructor'
    ],
    [
      'web search when it is not allowed',
      { ...MAIN, tools: [{ type: 'web_search_20250305', name: 'web_search' }] },
      {},
      'tool web_search (not allowed)'
    ],
    ['a body that is not JSON', '{"model":', {}, 'body not JSON'],
    ['a JSON array', '[1,2]', {}, 'body not an object'],
    ['a compressed body', MAIN, { headers: { 'content-encoding': 'gzip' } }, 'content-encoding']
  ]

  it.each(table)('%s', (_name, body, extra, rule) => {
    const verdict = check(body ?? '', WEB_OFF, extra)
    expect(verdict).toMatchObject({ allowed: false, rule })
    if (!verdict.allowed)
      expect(verdict.reason).toMatch(/^claude-sandbox gateway refused the request: /)
  })

  it('a duplicate key cannot smuggle a second value past the check (the body is re-serialized)', () => {
    const raw =
      '{"model":"m","max_tokens":1,"tools":[{"type":"web_fetch_20250910","name":"f"}],"tools":[{"name":"Bash"}],"messages":[]}'
    const verdict = check(raw)
    expect(verdict.allowed).toBe(true)
    if (verdict.allowed) {
      const forwarded = verdict.body
      expect(forwarded).not.toContain('web_fetch')
      expect(JSON.parse(forwarded)).toMatchObject({ tools: [{ name: 'Bash' }] })
    }
  })

  it('refuses a body over the API’s own limit', () => {
    const verdict = checkRequest(
      {
        method: 'POST',
        path: '/v1/messages',
        headers: {},
        body: Buffer.alloc(MAX_REQUEST_BYTES + 1, 32)
      },
      WEB_OFF
    )
    expect(verdict).toMatchObject({ allowed: false, status: 413 })
  })
})

describe('web search', () => {
  const search = { ...MAIN, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }
  const history = withMessage([
    { type: 'server_tool_use', id: 's', name: 'web_search', input: { query: 'q' } },
    { type: 'web_search_tool_result', tool_use_id: 's', content: [] }
  ])

  it('passes, with its result blocks, only where allowed', () => {
    expect(check(search, WEB_ON)).toMatchObject({ allowed: true })
    expect(check(history, WEB_ON)).toMatchObject({ allowed: true })
    expect(check(history, WEB_OFF)).toMatchObject({ allowed: false, rule: 'block server_tool_use' })
  })

  const cases: Array<[string, 'restricted' | 'open', string[], string[], boolean]> = [
    ['restricted, not listed', 'restricted', [], [], false],
    ['restricted, listed in allowed-tools', 'restricted', ['Bash', 'WebSearch'], [], true],
    ['restricted, listed with a rule', 'restricted', ['WebSearch(domain:example.com)'], [], true],
    ['open network', 'open', [], [], true],
    ['open network, disallowed', 'open', [], ['WebSearch'], false],
    ['listed in both', 'restricted', ['WebSearch'], ['WebSearch'], false],
    ['a longer tool name is not WebSearch', 'restricted', ['WebSearchPro'], [], false]
  ]
  it.each(cases)('%s', (_name, network, allowedTools, disallowedTools, expected) => {
    expect(webSearchAllowed({ network, allowedTools, disallowedTools })).toBe(expected)
  })
})

describe('refusals read as refusals', () => {
  it('400 invalid_request_error: the CLI shows it as an invalid request, not an authentication failure', () => {
    const verdict = check({ ...MAIN, mcp_servers: [] })
    expect(verdict).toMatchObject({
      allowed: false,
      status: 400,
      errorType: 'invalid_request_error'
    })
  })
})

describe('the allow-lists', () => {
  it('every refused beta family is refused whatever its date', () => {
    for (const family of Object.keys(REFUSED_BETA_FAMILIES)) {
      expect(check(MAIN, WEB_OFF, { beta: `${family}-2099-01-01` })).toMatchObject({
        allowed: false,
        rule: `beta ${family}-2099-01-01`
      })
    }
  })

  it('name none of the features that reach third parties', () => {
    const everything = JSON.stringify(CLI_API_SHAPE)
    for (const forbidden of [
      'mcp',
      'web-fetch',
      'web_fetch',
      'code-execution',
      'files-api',
      'skills',
      'batches',
      'container',
      '"url"',
      '"file"'
    ]) {
      expect(everything).not.toContain(forbidden)
    }
  })
})
