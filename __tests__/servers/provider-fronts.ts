/**
 * Local stand-ins for the model providers the gateway authenticates for, each a front for the
 * scripted fake-anthropic.ts (so a test writes its turns once, whatever the provider):
 *
 * - fake `bedrock-runtime`: recomputes every request's SigV4 signature with the AWS SDK's own
 *   signer over the headers the request says it signed, refuses an unsigned or wrongly signed
 *   one as Bedrock does (403 with `x-amzn-errortype`), maps `/model/{id}/invoke[-with-response-
 *   stream]` to a Messages request (model from the path, `anthropic_version`/`anthropic_beta`
 *   from the body), and streams the answer as `application/vnd.amazon.eventstream` frames whose
 *   body is `{"bytes": base64(event)}`, as test-rig.md measured;
 * - fake Vertex AI: accepts only a bearer token its Google token service issued, maps
 *   `/v1/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:streamRawPredict` likewise
 *   and passes the server-sent events through;
 * - fake Google STS (`POST /v1/token`, form-encoded, as google-auth-library's external_account
 *   client sends it), fake Actions OIDC token endpoint, fake Anthropic token exchange
 *   (`POST /v1/oauth/token`, RFC 7523 jwt-bearer) issuing short-lived tokens;
 * - an LLM gateway (LiteLLM-like) that requires a bearer token and a custom header.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Sha256 } from '@aws-crypto/sha256-js'
import { EventStreamCodec } from '@smithy/core/event-streams'
import { SignatureV4 } from '@smithy/signature-v4'
import { fromUtf8, toUtf8 } from '@smithy/util-utf8'
import { startFakeAnthropic, type FakeAnthropic, type Scenario } from './fake-anthropic.js'

export interface FrontRecord {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  time: number
  /** The status this front answered (0 when passed on to the scripted API). */
  status: number
  /** Why it was refused, when it was. */
  refused?: string
}

export interface Front {
  url: string
  port: number
  requests: FrontRecord[]
  /** The scripted Messages API behind it (its log holds the translated requests). */
  api: FakeAnthropic
  close(): Promise<void>
}

interface Served {
  server: ReturnType<typeof createServer>
  port: number
  close(): Promise<void>
}

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void> | void
): Promise<Served> {
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { message: String(error) })
        else res.destroy()
      })
    })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    server,
    port,
    close: async () => {
      const stopped = new Promise<void>(resolve => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await stopped
    }
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers
  })
  res.end(text)
}

/** POSTs a Messages body to the scripted API and hands back its raw response. */
function callApi(
  api: FakeAnthropic,
  body: Record<string, unknown>,
  headers: Record<string, string>
): Promise<IncomingMessage> {
  const text = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${api.url}/v1/messages?beta=true`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...headers
        }
      },
      resolve
    )
    req.on('error', reject)
    req.end(text)
  })
}

/** Reads server-sent events from a response, calling `onEvent` with each event's JSON data. */
async function forEachEvent(res: IncomingMessage, onEvent: (data: string) => void): Promise<void> {
  let buffered = ''
  for await (const chunk of res) {
    buffered += (chunk as Buffer).toString('utf8')
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const event = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const data = event
        .split('\n')
        .filter(line => line.startsWith('data:'))
        .map(line => line.slice(5).trim())
        .join('')
      if (data) onEvent(data)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Amazon Bedrock

export interface AwsTestCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

export interface FakeBedrockOptions {
  credentials: AwsTestCredentials
  region: string
  /** Answer every model call with 403 AccessDeniedException (a role without model access). */
  denyModelAccess?: boolean
}

const codec = new EventStreamCodec(toUtf8, fromUtf8)

/** One Bedrock stream frame holding one Anthropic stream event. */
export function bedrockChunkFrame(eventJson: string): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: 'chunk' },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' }
    },
    body: fromUtf8(JSON.stringify({ bytes: Buffer.from(eventJson).toString('base64'), p: 'abcd' }))
  })
}

/**
 * Checks a request's SigV4 signature by signing the same request again with the AWS SDK's signer
 * and the known credentials, over exactly the headers the request lists as signed, at the time
 * it says it was signed. Returns why it is refused, or undefined when it is good.
 */
export async function verifySigV4(
  req: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer },
  options: { credentials: AwsTestCredentials; region: string; service: string }
): Promise<{ type: string; message: string } | undefined> {
  const authorization = String(req.headers.authorization ?? '')
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization
    )
  if (!match) {
    return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' }
  }
  const [, keyId, , region, service, signedHeaders] = match
  const { credentials } = options
  if (keyId !== credentials.accessKeyId) {
    return {
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.'
    }
  }
  if (
    credentials.sessionToken !== undefined &&
    req.headers['x-amz-security-token'] !== credentials.sessionToken
  ) {
    return {
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.'
    }
  }
  if (region !== options.region || service !== options.service) {
    return {
      type: 'InvalidSignatureException',
      message: `Credential should be scoped to a valid region / service (${region}/${service})`
    }
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (!date) return { type: 'IncompleteSignatureException', message: 'No X-Amz-Date' }
  const signingDate = new Date(
    Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!)
  )
  if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) {
    return { type: 'InvalidSignatureException', message: 'Signature expired' }
  }
  // A signed payload hash must be the body's: otherwise the signature would not cover the body.
  const claimedHash = req.headers['x-amz-content-sha256']
  if (
    claimedHash !== undefined &&
    claimedHash !== createHash('sha256').update(req.body).digest('hex')
  ) {
    return {
      type: 'InvalidSignatureException',
      message: 'x-amz-content-sha256 does not match the body'
    }
  }
  const headers: Record<string, string> = {}
  for (const name of (signedHeaders ?? '').split(';')) {
    const value = req.headers[name]
    if (value === undefined) {
      return { type: 'InvalidSignatureException', message: `signed header ${name} missing` }
    }
    headers[name] = Array.isArray(value) ? value.join(',') : value
  }
  const [pathname, query = ''] = req.path.split('?')
  const signer = new SignatureV4({
    service: options.service,
    region: options.region,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {})
    },
    sha256: Sha256
  })
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'https:',
      hostname: String(req.headers.host ?? '').replace(/:\d+$/, ''),
      path: pathname ?? '/',
      query: Object.fromEntries(new URLSearchParams(query)),
      headers,
      body: req.body.toString('utf8')
    },
    { signingDate }
  )
  const expected = String(signed.headers.authorization ?? signed.headers.Authorization ?? '')
  if (expected !== authorization) {
    return {
      type: 'InvalidSignatureException',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.'
    }
  }
  return undefined
}

export async function startFakeBedrock(
  scenario: Scenario,
  options: FakeBedrockOptions
): Promise<Front> {
  const api = await startFakeAnthropic(scenario)
  const requests: FrontRecord[] = []
  const served = await serve(async (req, res, body) => {
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const record: FrontRecord = {
      method,
      path,
      headers: req.headers,
      body: body.toString('utf8'),
      time: Date.now(),
      status: 0
    }
    requests.push(record)
    const fail = (status: number, type: string, message: string): void => {
      record.status = status
      record.refused = type
      json(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/` })
    }
    const bad = await verifySigV4(
      { method, path, headers: req.headers, body },
      { credentials: options.credentials, region: options.region, service: 'bedrock' }
    )
    if (bad) return fail(403, bad.type, bad.message)
    const pathname = path.split('?')[0] ?? ''
    if (method === 'GET' && pathname === '/inference-profiles') {
      record.status = 200
      return json(res, 200, { inferenceProfileSummaries: [] })
    }
    const route = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(pathname)
    if (method !== 'POST' || !route) {
      return fail(404, 'UnknownOperationException', `no route for ${method} ${pathname}`)
    }
    if (options.denyModelAccess) {
      return fail(
        403,
        'AccessDeniedException',
        "You don't have access to the model with the specified model ID."
      )
    }
    const modelId = decodeURIComponent(route[1] ?? '')
    const stream = route[2] === 'invoke-with-response-stream'
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    if (typeof parsed.anthropic_version !== 'string' || 'model' in parsed) {
      return fail(400, 'ValidationException', 'anthropic_version is required; model is not')
    }
    const { anthropic_beta: betas, ...rest } = parsed
    delete rest.anthropic_version
    const headers: Record<string, string> = Array.isArray(betas)
      ? { 'anthropic-beta': betas.join(',') }
      : {}
    const answer = await callApi(api, { ...rest, model: modelId, stream }, headers)
    const status = answer.statusCode ?? 500
    if (!stream || status !== 200) {
      record.status = status
      res.writeHead(status, { 'content-type': 'application/json' })
      answer.pipe(res)
      return
    }
    record.status = 200
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': randomBytes(8).toString('hex')
    })
    res.flushHeaders()
    await forEachEvent(answer, data => res.write(bedrockChunkFrame(data)))
    res.end()
  })
  return {
    url: `http://127.0.0.1:${served.port}`,
    port: served.port,
    requests,
    api,
    close: async () => {
      await served.close()
      await api.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Google: STS and Vertex AI

export interface FakeGoogle {
  /** The STS token endpoint, for an external_account file's `token_url`. */
  tokenUrl: string
  /** Access tokens issued so far, and the subject tokens they were exchanged for. */
  issued: Array<{ accessToken: string; subjectToken: string; audience: string }>
  close(): Promise<void>
}

/** A Google STS stand-in: exchanges any subject token for a one-hour access token. */
export async function startFakeGoogleSts(
  acceptSubject: (token: string) => boolean
): Promise<FakeGoogle> {
  const issued: FakeGoogle['issued'] = []
  const served = await serve((req, res, body) => {
    const form = new URLSearchParams(body.toString('utf8'))
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/token') {
      return json(res, 404, { error: 'not_found' })
    }
    const subjectToken = form.get('subject_token') ?? ''
    if (
      form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange' ||
      !acceptSubject(subjectToken)
    ) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'subject token refused' })
    }
    const accessToken = `ya29.fake-${randomBytes(12).toString('hex')}`
    issued.push({ accessToken, subjectToken, audience: form.get('audience') ?? '' })
    json(res, 200, {
      access_token: accessToken,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 3600
    })
  })
  return {
    tokenUrl: `http://127.0.0.1:${served.port}/v1/token`,
    issued,
    close: () => served.close()
  }
}

export interface FakeVertexOptions {
  project: string
  region: string
  /** Whether a bearer token is one the token service issued. */
  validToken: (token: string) => boolean
}

/** Vertex AI's Anthropic endpoint; its base URL (`url`) ends in /v1, as the CLI's does. */
export async function startFakeVertex(
  scenario: Scenario,
  options: FakeVertexOptions
): Promise<Front> {
  const api = await startFakeAnthropic(scenario)
  const requests: FrontRecord[] = []
  const served = await serve(async (req, res, body) => {
    const method = req.method ?? 'GET'
    const path = req.url ?? '/'
    const record: FrontRecord = {
      method,
      path,
      headers: req.headers,
      body: body.toString('utf8'),
      time: Date.now(),
      status: 0
    }
    requests.push(record)
    const fail = (status: number, message: string, reason: string): void => {
      record.status = status
      record.refused = reason
      json(res, status, { error: { code: status, message, status: reason } })
    }
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
    if (!bearer || !options.validToken(bearer)) {
      return fail(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token.',
        'UNAUTHENTICATED'
      )
    }
    const route =
      /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(streamRawPredict|rawPredict)$/.exec(
        path.split('?')[0] ?? ''
      )
    if (method !== 'POST' || !route) return fail(404, `no route for ${path}`, 'NOT_FOUND')
    if (route[1] !== options.project || route[2] !== options.region) {
      return fail(403, `Permission denied on project ${route[1]}`, 'PERMISSION_DENIED')
    }
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    if (parsed.anthropic_version !== 'vertex-2023-10-16' || 'model' in parsed) {
      return fail(400, 'anthropic_version vertex-2023-10-16 is required', 'INVALID_ARGUMENT')
    }
    const rest = { ...parsed }
    delete rest.anthropic_version
    const beta = req.headers['anthropic-beta']
    const answer = await callApi(
      api,
      { ...rest, model: decodeURIComponent(route[3] ?? '') },
      beta ? { 'anthropic-beta': String(beta) } : {}
    )
    record.status = answer.statusCode ?? 500
    res.writeHead(record.status, {
      'content-type': String(answer.headers['content-type'] ?? 'application/json')
    })
    answer.pipe(res)
  })
  return {
    url: `http://127.0.0.1:${served.port}/v1`,
    port: served.port,
    requests,
    api,
    close: async () => {
      await served.close()
      await api.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GitHub's OIDC token endpoint, Anthropic's token exchange, LLM gateways

export interface FakeOidc {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (already carries a query, as the runner's does). */
  requestUrl: string
  requestToken: string
  /** Audiences asked for, in order. */
  audiences: string[]
  /** JWTs handed out. */
  tokens: string[]
  close(): Promise<void>
}

/** The runner's OIDC token service: GET URL&audience=… with the request token → {value: JWT}. */
export async function startFakeOidc(): Promise<FakeOidc> {
  const requestToken = `oidc-request-${randomBytes(8).toString('hex')}`
  const audiences: string[] = []
  const tokens: string[] = []
  const served = await serve((req, res) => {
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      return json(res, 401, { message: 'bad request token' })
    }
    const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience') ?? ''
    audiences.push(audience)
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const jwt = [
      b64({ alg: 'RS256', typ: 'JWT' }),
      b64({
        iss: 'https://token.actions.githubusercontent.com',
        aud: audience,
        sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
        iat: now,
        exp: now + 300,
        jti: randomBytes(8).toString('hex')
      }),
      randomBytes(32).toString('base64url')
    ].join('.')
    tokens.push(jwt)
    json(res, 200, { count: 1, value: jwt })
  })
  return {
    requestUrl: `http://127.0.0.1:${served.port}/token?api-version=2.0`,
    requestToken,
    audiences,
    tokens,
    close: () => served.close()
  }
}

export interface FakeAnthropicIdentity extends Front {
  /** Token exchanges, with the form they carried. */
  exchanges: Array<{ body: Record<string, unknown>; beta: string; time: number }>
}

export interface IdentityOptions {
  /** Lifetime of each issued token (the real one is an hour; tests use less than a minute). */
  expiresInSeconds: number
  /** Whether an assertion (the OIDC JWT) is accepted. */
  acceptAssertion: (jwt: string) => boolean
  federationRuleId: string
  organizationId: string
}

/**
 * Anthropic's API with workload identity federation: `POST /v1/oauth/token` (RFC 7523
 * jwt-bearer) issues short-lived tokens; a Messages request passes only with one that has not
 * expired (sent as a bearer token with the OAuth beta), and goes on to the scripted API.
 */
export async function startFakeAnthropicIdentity(
  scenario: Scenario,
  options: IdentityOptions
): Promise<FakeAnthropicIdentity> {
  const api = await startFakeAnthropic(scenario)
  const requests: FrontRecord[] = []
  const exchanges: FakeAnthropicIdentity['exchanges'] = []
  const live = new Map<string, number>()
  const served = await serve(async (req, res, body) => {
    const path = req.url ?? '/'
    const record: FrontRecord = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body: body.toString('utf8'),
      time: Date.now(),
      status: 0
    }
    requests.push(record)
    const fail = (status: number, type: string, message: string): void => {
      record.status = status
      record.refused = type
      json(res, status, { type: 'error', error: { type, message } })
    }
    if (path.split('?')[0] === '/v1/oauth/token') {
      const form = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>
      exchanges.push({
        body: { ...form, assertion: '<jwt>' },
        beta: String(req.headers['anthropic-beta'] ?? ''),
        time: Date.now()
      })
      if (
        form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' ||
        typeof form.assertion !== 'string' ||
        !options.acceptAssertion(form.assertion) ||
        form.federation_rule_id !== options.federationRuleId ||
        form.organization_id !== options.organizationId
      ) {
        record.status = 401
        return json(res, 401, {
          error: 'invalid_grant',
          error_description: 'the assertion does not match the federation rule'
        })
      }
      const token = `sk-ant-oat-wif-${randomBytes(12).toString('hex')}`
      live.set(token, Date.now() + options.expiresInSeconds * 1000)
      record.status = 200
      return json(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: options.expiresInSeconds
      })
    }
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? ''
    const expires = live.get(bearer)
    if (expires === undefined) return fail(401, 'authentication_error', 'invalid bearer token')
    if (expires < Date.now()) return fail(401, 'authentication_error', 'token expired')
    if (!String(req.headers['anthropic-beta'] ?? '').includes('oauth-2025-04-20')) {
      return fail(401, 'authentication_error', 'OAuth tokens need the oauth beta')
    }
    await pass(api, req, res, body, record)
  })
  return {
    url: `http://127.0.0.1:${served.port}`,
    port: served.port,
    requests,
    exchanges,
    api,
    close: async () => {
      await served.close()
      await api.close()
    }
  }
}

/** An LLM gateway (LiteLLM-like): needs `Authorization: Bearer <token>` and one custom header. */
export async function startFakeLlmGateway(
  scenario: Scenario,
  options: { token: string; header: { name: string; value: string } }
): Promise<Front> {
  const api = await startFakeAnthropic(scenario)
  const requests: FrontRecord[] = []
  const served = await serve(async (req, res, body) => {
    const record: FrontRecord = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: body.toString('utf8'),
      time: Date.now(),
      status: 0
    }
    requests.push(record)
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      record.status = 401
      record.refused = 'bearer'
      return json(res, 401, { error: { message: 'Authentication Error, invalid key' } })
    }
    if (req.headers[options.header.name.toLowerCase()] !== options.header.value) {
      record.status = 403
      record.refused = 'header'
      return json(res, 403, { error: { message: `missing ${options.header.name}` } })
    }
    await pass(api, req, res, body, record)
  })
  return {
    url: `http://127.0.0.1:${served.port}`,
    port: served.port,
    requests,
    api,
    close: async () => {
      await served.close()
      await api.close()
    }
  }
}

/** Passes a Messages request on to the scripted API as it came, and its answer back. */
async function pass(
  api: FakeAnthropic,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  record: FrontRecord
): Promise<void> {
  const answer = await new Promise<IncomingMessage>((resolve, reject) => {
    const headers = { ...req.headers }
    delete headers.host
    const upstream = httpRequest(
      `${api.url}${req.url ?? '/'}`,
      { method: req.method, headers },
      resolve
    )
    upstream.on('error', reject)
    upstream.end(body)
  })
  record.status = answer.statusCode ?? 500
  res.writeHead(record.status, answer.headers)
  answer.pipe(res)
}
