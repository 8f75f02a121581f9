/**
 * The API door's request policy (pure): which requests the credential gateway forwards with the
 * real key. With `network: restricted` the gateway is the sandbox's one way out, so it refuses
 * whatever would make the API reach a third party, or the account's stored data, on the agent's
 * behalf: the MCP connector (`mcp_servers`), server tools that fetch or execute (web fetch, code
 * execution, `container`), images and documents sourced by `url` or by Files API id, and the
 * Files, Batches and Skills APIs (their paths are not on the list).
 *
 * It has to hold for every CLI version the action accepts (src/agent/cli-versions.ts), and CLI
 * versions add and drop `anthropic-beta` flags every few releases (2.1.232 sends
 * `mid-conversation-system-2026-04-07` and `fallback-credit-2026-06-01`, 2.1.332 neither). So
 * the policy is strict where the API could be made to reach out, and lenient where it cannot:
 *
 * - **By body, allow-lists.** Everything that can name something outside the request is a
 *   structure in the body: a tool (a server tool names a fetcher or an executor), a content
 *   block and its `source` (a URL, a Files API id), a top-level field (`mcp_servers` names
 *   servers by URL; `container` names a container by a plain string id, and carries skills).
 *   These are checked against lists learned from the real CLI across the supported range
 *   (2.1.232, 2.1.260, 2.1.290, 2.1.310, 2.1.330 and 2.1.332 recorded, all sending the same
 *   fields, tool kinds, block and source types; see scripts/record-cli-requests.ts).
 * - **Unknown top-level fields** pass only when their value is inert: a number, a boolean or
 *   null, which cannot name a URL, a server, a tool or a stored object. A string or a structure
 *   is refused: an id of the account's stored data is a plain string (`"container_011…"`), and
 *   no test of a value can tell it from a harmless word, so only the fields the CLI was seen
 *   to send are trusted with them.
 * - **`anthropic-beta` flags, by name.** A flag is only a name: it lets the API accept a field,
 *   a tool or a source in the body, which the body checks above refuse whatever the flags say.
 *   So a flag passes unless it belongs to a family that unlocks a feature reaching out (the MCP
 *   connector, web fetch, code execution, the Files, Batches and Skills APIs; see
 *   REFUSED_BETA_FAMILIES): refusing those too is defence in depth, and names the feature in
 *   the refusal. A flag the CLI adds or drops cannot fail a run.
 *
 * A refusal is answered as the API answers a request it will not take, `400
 * invalid_request_error`, which the CLI reports as `API Error: 400 <our reason>` (a 403 reads
 * "Failed to authenticate" in the CLI, which sent users the wrong way).
 */
import type { IncomingHttpHeaders } from 'node:http'

export const CLI_API_SHAPE = {
  /** Method and exact pathname; everything else the binary knows of is refused. */
  requests: [
    { method: 'POST', pathname: '/v1/messages' },
    { method: 'POST', pathname: '/v1/messages/count_tokens' }
  ],
  /** Query strings, whole. */
  queries: ['', 'beta=true'],
  /**
   * Top-level body fields that may carry strings and structures. Observed across the supported
   * range, plus sampling parameters that are inline by nature. Any other field passes only with
   * an inert value (a number, a boolean, null).
   */
  fields: [
    'model',
    'messages',
    'system',
    'tools',
    'tool_choice',
    'max_tokens',
    'stream',
    'metadata',
    'thinking',
    'temperature',
    'context_management',
    'output_config',
    // Not observed; plain sampling parameters of the Messages API, nothing to fetch.
    'top_p',
    'top_k',
    'stop_sequences'
  ],
  /** Content block types, in `messages`, `system` and tool results. */
  blockTypes: [
    'text',
    'image',
    'document',
    'tool_use',
    'tool_result',
    'thinking',
    'redacted_thinking',
    // ToolSearch's results (advanced-tool-use): a name of a tool already in the request.
    'tool_reference'
  ],
  /** Web search's own blocks, allowed where web search is. */
  webSearchBlockTypes: ['server_tool_use', 'web_search_tool_result'],
  /** `source.type` of images and documents: inline data only (`content` holds inline blocks). */
  sourceTypes: ['base64', 'text', 'content'],
  /** Server tools: WebSearch's, where the user allows web search. Client tools have no type. */
  webSearchTool: /^web_search_\d{8}$/
} as const

/**
 * `anthropic-beta` families refused by name: each unlocks a feature that makes the API reach a
 * third party or the account's stored data. A flag is in a family when it is the family's name
 * or starts with it and a hyphen (`mcp-client-2025-04-04`, `files-api-2025-04-14`).
 */
export const REFUSED_BETA_FAMILIES: Record<string, string> = {
  'mcp-client': 'the MCP connector',
  'mcp-servers': 'the MCP connector',
  'web-fetch': 'server-side web fetch',
  'code-execution': 'server-side code execution',
  'files-api': 'the Files API',
  skills: 'the Skills API',
  'message-batches': 'the Batches API',
  container: 'code-execution containers'
}

/** A flag's shape: anything else (spaces, quotes, very long) is not a flag the CLI sends. */
const BETA_FLAG = /^[a-z0-9][a-z0-9._-]{0,99}$/i

/** Top-level fields refused by name, and why: they make the API reach out. */
const REFUSED_FIELDS: Record<string, string> = {
  mcp_servers: 'the MCP connector would make the API call servers the agent names',
  container: 'a code-execution container can reach the network and the account’s files'
}

/** What a refusal says about the sources that reach out. */
const REFUSED_SOURCES: Record<string, string> = {
  url: 'the API would fetch the URL',
  file: 'it reads the account’s Files API storage'
}

export interface PolicyOptions {
  /** Whether server-side web search may pass (see webSearchAllowed). */
  webSearch: boolean
}

/** A request as the gateway received it (the body already read, within MAX_REQUEST_BYTES). */
export interface ApiRequest {
  method: string
  /** Path with query, e.g. `/v1/messages?beta=true`. */
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

export type PolicyVerdict =
  | {
      allowed: true
      /** The body to forward: re-serialized, so the API parses exactly what was checked. */
      body: string
      /** What the gateway needs from the body. */
      model?: string
      /** The request offers client tools: a step of an agent loop (the main one or a subagent's). */
      agentLoop: boolean
    }
  | {
      allowed: false
      status: 400 | 413
      errorType: 'invalid_request_error' | 'request_too_large'
      /** One line, for the client, the log and the summary (group by `rule`). */
      reason: string
      /** A short stable name of the rule that refused, e.g. `field mcp_servers`. */
      rule: string
    }

/** What every refusal's reason begins with: how the CLI's error text is recognised as ours. */
export const REFUSAL_PREFIX = 'claude-sandbox gateway refused the request: '

/** The Messages API's own request limit is 32 MB; nothing legitimate is bigger. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024

export type Refusal = Extract<PolicyVerdict, { allowed: false }>

export function refuse(rule: string, detail: string, status: Refusal['status'] = 400): Refusal {
  // Rules and details can quote what the client sent: keep them short.
  rule = rule.length > 120 ? `${rule.slice(0, 120)}…` : rule
  detail = detail.length > 400 ? `${detail.slice(0, 400)}…` : detail
  const errorType = status === 413 ? 'request_too_large' : 'invalid_request_error'
  return {
    allowed: false,
    status,
    errorType,
    rule,
    reason: `${REFUSAL_PREFIX}${detail}`
  }
}

/** Checks the method and path only (before the body is read). */
export function checkPath(method: string, path: string): Refusal | undefined {
  const [pathname, ...rest] = path.split('?')
  const query = rest.join('?')
  const known = CLI_API_SHAPE.requests.some(r => r.method === method && r.pathname === pathname)
  if (!known) {
    return refuse(`path ${method} ${pathname}`, `path not allowed: ${method} ${pathname}`)
  }
  if (!(CLI_API_SHAPE.queries as readonly string[]).includes(query)) {
    return refuse('query', `query not allowed: ?${query}`)
  }
  return undefined
}

/** `anthropic-beta` flags, from one or several headers. */
export function betaFlags(headers: IncomingHttpHeaders): string[] {
  const raw = headers['anthropic-beta']
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '')
  return joined
    .split(',')
    .map(flag => flag.trim())
    .filter(flag => flag !== '')
}

/** The whole policy for one request. */
export function checkRequest(request: ApiRequest, options: PolicyOptions): PolicyVerdict {
  const pathRefusal = checkPath(request.method, request.path)
  if (pathRefusal) return pathRefusal
  for (const flag of betaFlags(request.headers)) {
    const refusal = checkBeta(flag)
    if (refusal) return refusal
  }
  const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase()
  if (encoding !== 'identity') {
    return refuse('content-encoding', `a ${encoding}-encoded body cannot be checked`)
  }
  if (request.body.length > MAX_REQUEST_BYTES) {
    return refuse('body too large', `body over ${MAX_REQUEST_BYTES} bytes`, 413)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(request.body.toString('utf8'))
  } catch {
    return refuse('body not JSON', 'the body is not JSON')
  }
  if (!isRecord(parsed)) return refuse('body not an object', 'the body is not a JSON object')

  for (const [field, value] of Object.entries(parsed)) {
    const refusal = checkField(field, value)
    if (refusal) return refusal
  }
  const tools = parsed.tools
  let agentLoop = false
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return refuse('tools', '`tools` is not a list')
    for (const tool of tools) {
      if (!isRecord(tool)) return refuse('tools', 'a tool is not an object')
      const type = tool.type
      if (type === undefined || type === 'custom') {
        agentLoop = true
        continue
      }
      const name = typeof type === 'string' ? type : JSON.stringify(type)
      if (typeof type === 'string' && CLI_API_SHAPE.webSearchTool.test(type)) {
        if (options.webSearch) continue
        return refuse(
          'tool web_search (not allowed)',
          `server-side web search is off: list WebSearch in \`allowed-tools\` to allow it (tool ${name})`
        )
      }
      return refuse(`tool ${name}`, `server tool not allowed: ${name}`)
    }
  }
  const blocks = checkBlocks(parsed.system, options, 0) ?? checkMessages(parsed.messages, options)
  if (blocks) return blocks
  return {
    allowed: true,
    body: JSON.stringify(parsed),
    model: typeof parsed.model === 'string' ? parsed.model : undefined,
    agentLoop
  }
}

/** A beta flag passes unless it is malformed or in a family that reaches out. */
function checkBeta(flag: string): Refusal | undefined {
  if (!BETA_FLAG.test(flag)) return refuse('beta (malformed)', 'a malformed anthropic-beta flag')
  const family = Object.keys(REFUSED_BETA_FAMILIES).find(
    name => flag.toLowerCase() === name || flag.toLowerCase().startsWith(`${name}-`)
  )
  if (family === undefined) return undefined
  return refuse(
    `beta ${flag}`,
    `anthropic-beta flag not allowed: ${flag} (it enables ${REFUSED_BETA_FAMILIES[family]}, which reaches beyond the sandbox)`
  )
}

/**
 * A top-level field passes when it is on the list, or when its value is inert (a number, a
 * boolean, null: nothing that can name a URL, a server, a tool or a stored object).
 */
function checkField(field: string, value: unknown): Refusal | undefined {
  if (Object.hasOwn(REFUSED_FIELDS, field)) {
    return refuse(
      `field ${field}`,
      `top-level field not allowed: ${field} (${REFUSED_FIELDS[field]})`
    )
  }
  if ((CLI_API_SHAPE.fields as readonly string[]).includes(field)) return undefined
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return undefined
  return refuse(
    `field ${field}`,
    `top-level field not allowed: ${field} (an unknown field may carry only a number, a boolean or null)`
  )
}

function checkMessages(messages: unknown, options: PolicyOptions): Refusal | undefined {
  if (messages === undefined) return undefined
  if (!Array.isArray(messages)) return refuse('messages', '`messages` is not a list')
  for (const message of messages) {
    if (!isRecord(message)) return refuse('messages', 'a message is not an object')
    const found = checkBlocks(message.content, options, 0)
    if (found) return found
  }
  return undefined
}

/** Content: a string, or a list of blocks whose types and sources are on the lists. */
function checkBlocks(content: unknown, options: PolicyOptions, depth: number): Refusal | undefined {
  if (content === undefined || typeof content === 'string') return undefined
  if (!Array.isArray(content)) return refuse('content', 'content is neither text nor a list')
  if (depth > 8) return refuse('content', 'content nested too deeply')
  for (const block of content) {
    if (!isRecord(block)) return refuse('content', 'a content block is not an object')
    const type = typeof block.type === 'string' ? block.type : JSON.stringify(block.type)
    const known =
      (CLI_API_SHAPE.blockTypes as readonly string[]).includes(type) ||
      (options.webSearch && (CLI_API_SHAPE.webSearchBlockTypes as readonly string[]).includes(type))
    if (!known) return refuse(`block ${type}`, `content block type not allowed: ${type}`)
    if (block.source !== undefined) {
      const source = block.source
      const sourceType = isRecord(source) ? String(source.type) : typeof source
      if (!(CLI_API_SHAPE.sourceTypes as readonly string[]).includes(sourceType)) {
        const why = Object.hasOwn(REFUSED_SOURCES, sourceType)
          ? ` (${REFUSED_SOURCES[sourceType]})`
          : ''
        return refuse(`source ${sourceType}`, `${type} source not allowed: ${sourceType}${why}`)
      }
      if (isRecord(source) && sourceType === 'content') {
        const inner = checkBlocks(source.content, options, depth + 1)
        if (inner) return inner
      }
    }
    if (type === 'tool_result') {
      const inner = checkBlocks(block.content, options, depth + 1)
      if (inner) return inner
    }
  }
  return undefined
}

/**
 * Whether server-side web search may pass the door. It sends the agent's queries to a search
 * provider and brings back what the web says, so in restricted mode it passes only when the
 * user lists WebSearch in `allowed-tools`; with `network: open` the agent reaches the web anyway,
 * so it passes unless `disallowed-tools` names it.
 */
export function webSearchAllowed(settings: {
  network: 'restricted' | 'open'
  allowedTools: readonly string[]
  disallowedTools: readonly string[]
}): boolean {
  const names = (rules: readonly string[]): boolean =>
    rules.some(rule => /^WebSearch(\(.*\))?$/.test(rule.trim()))
  if (names(settings.disallowedTools)) return false
  return settings.network === 'open' || names(settings.allowedTools)
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
