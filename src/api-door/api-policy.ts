/**
 * The API door's request policy (pure): which requests the credential gateway forwards with the
 * real key. With `network: restricted` the gateway is the sandbox's one way out, so it forwards
 * only requests shaped like the Claude Code CLI's own, and refuses whatever would make the API
 * reach a third party, or the account's stored data, on the agent's behalf: the MCP connector
 * (`mcp_servers`), server tools that fetch or execute (web fetch, code execution, `container`),
 * images and documents sourced by `url` or by Files API id, and the Files, Batches and Skills
 * APIs (their paths are not on the list).
 *
 * Every list is in CLI_API_SHAPE below. It was found by logging what the real CLI 2.1.330 sends
 * (`claude -p ... --output-format stream-json --verbose --dangerously-skip-permissions` against
 * __tests__/servers/fake-anthropic.ts) across tool turns (Write, Bash, Read, Edit, WebSearch),
 * with an API key and with an OAuth token, with the default models (claude-opus-5-5 with a key,
 * claude-sonnet-5-5 with OAuth) and with claude-sonnet-4-5 and claude-haiku-4-5. A CLI upgrade
 * that sends something new makes the end-to-end tests' "nothing was refused" checks fail, which
 * is the signal to log the new CLI and review this one list.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** The CLI version CLI_API_SHAPE was measured with. */
export const MEASURED_CLI_VERSION = '2.1.330'

export const CLI_API_SHAPE = {
  /** Method and exact pathname; everything else the binary knows of is refused. */
  requests: [
    { method: 'POST', pathname: '/v1/messages' },
    { method: 'POST', pathname: '/v1/messages/count_tokens' }
  ],
  /** Query strings, whole. */
  queries: ['', 'beta=true'],
  /** Top-level body fields. Observed, plus sampling parameters that are inline by nature. */
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
  /** `anthropic-beta` flags. */
  betas: [
    // Observed with every model and credential.
    'claude-code-20250219',
    'interleaved-thinking-2025-05-14',
    'context-management-2025-06-27',
    'thinking-token-count-2026-05-13',
    'advanced-tool-use-2025-11-20',
    'thinking-display-updates-2026-08-18',
    // Observed with the default (5.5) models.
    'per-turn-control-2026-07-01',
    'mid-conversation-tool-changes-2026-07-01',
    'effort-2025-11-24',
    // Observed with an OAuth token (the gateway adds oauth-… itself for a token).
    'oauth-2025-04-20',
    'extended-cache-ttl-2025-04-11',
    // Observed on WebSearch's request; the tool itself is checked separately.
    'web-search-2025-03-05',
    // Observed in Bedrock's and Vertex's modes (providers/): ToolSearch's flag there.
    'tool-search-tool-2025-10-19',
    // In the binary, model features that send nothing anywhere: a 1M-token context window
    // (`model: sonnet[1m]`), JSON-schema output, prompt-cache scopes, token counting.
    'context-1m-2025-08-07',
    'structured-outputs-2025-12-15',
    'prompt-caching-scope-2026-01-05',
    'token-counting-2024-11-01'
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

/** What a refusal says about the fields and features that reach third parties. */
const WHY: Record<string, string> = {
  mcp_servers: 'the MCP connector would make the API call servers the agent names',
  container: 'a code-execution container can reach the network and the account’s files',
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
      status: 403 | 413
      errorType: 'permission_error' | 'request_too_large'
      /** One line, for the client, the log and the summary (group by `rule`). */
      reason: string
      /** A short stable name of the rule that refused, e.g. `field mcp_servers`. */
      rule: string
    }

/** The Messages API's own request limit is 32 MB; nothing legitimate is bigger. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024

type Refusal = Extract<PolicyVerdict, { allowed: false }>

function refuse(rule: string, detail: string, status: Refusal['status'] = 403): Refusal {
  // Rules and details can quote what the client sent: keep them short.
  rule = rule.length > 120 ? `${rule.slice(0, 120)}…` : rule
  detail = detail.length > 400 ? `${detail.slice(0, 400)}…` : detail
  const errorType = status === 413 ? 'request_too_large' : 'permission_error'
  return {
    allowed: false,
    status,
    errorType,
    rule,
    reason: `claude-sandbox gateway refused the request: ${detail}`
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
    if (!(CLI_API_SHAPE.betas as readonly string[]).includes(flag)) {
      return refuse(`beta ${flag}`, `anthropic-beta flag not allowed: ${flag}`)
    }
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

  for (const field of Object.keys(parsed)) {
    if (!(CLI_API_SHAPE.fields as readonly string[]).includes(field)) {
      const why = WHY[field] ? ` (${WHY[field]})` : ''
      return refuse(`field ${field}`, `top-level field not allowed: ${field}${why}`)
    }
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
        const why = WHY[sourceType] ? ` (${WHY[sourceType]})` : ''
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
