/**
 * Amazon Bedrock. The CLI inside runs in its Bedrock mode with its own AWS authentication skipped
 * (cli-env.ts) and sends, measured with 2.1.330 against a logging stand-in:
 * - `GET /inference-profiles?type=SYSTEM_DEFINED`: a control-plane call (service `bedrock`, not
 *   `bedrock-runtime`) listing the account's inference profiles. It is refused: it reads the
 *   account, the runtime endpoint does not serve it, and the CLI carries on without it (measured);
 * - `POST /model/{id}/invoke` (side requests, JSON answer) and
 *   `POST /model/{id}/invoke-with-response-stream` (the agent loop): the Messages body without
 *   `model`, with `anthropic_version: bedrock-2023-05-31` and the betas in `anthropic_beta`.
 * The gateway checks those with the one request policy and signs each forwarded request with
 * SigV4 for the service `bedrock` (the signing name of `bedrock-runtime`) with the AWS SDK's own
 * signer, using the job's credentials from the SDK's standard provider chain (environment with a
 * session token as aws-actions/configure-aws-credentials leaves it, a web-identity token file, a
 * profile, container or instance roles), which caches them and fetches new ones before they
 * expire. The streamed answer is the binary event stream (bedrock-stream.ts).
 */
import { Sha256 } from '@aws-crypto/sha256-js'
import { fromNodeProviderChain } from '@aws-sdk/credential-providers'
import { SignatureV4 } from '@smithy/signature-v4'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types'
import type { OutgoingHttpHeaders } from 'node:http'
import { checkRequest, type PolicyOptions } from '../api-policy.js'
import { tapFor as messagesTapFor, type ResponseTap } from '../usage-meter.js'
import { EventStreamTap } from './bedrock-stream.js'
import {
  checkAsMessages,
  modelFromPath,
  CredentialsError,
  refusal,
  type OutgoingRequest,
  type ProviderRequest,
  type ProviderVerdict,
  type Refusal,
  type UpstreamProvider
} from './provider.js'

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31'
/** The signing name of the bedrock-runtime endpoint. */
const SIGNING_SERVICE = 'bedrock'

/** `/model/{id}/invoke` or `/model/{id}/invoke-with-response-stream`; the id as sent (encoded or not). */
const MODEL_PATH = /^\/model\/([A-Za-z0-9._:%-]{1,200})\/(invoke|invoke-with-response-stream)$/

export function checkBedrockPath(method: string, path: string): Refusal | undefined {
  const [pathname = '', query] = path.split('?')
  if (method === 'POST' && MODEL_PATH.test(pathname) && query === undefined) return undefined
  if (pathname === '/inference-profiles') {
    return refusal(
      `path ${method} ${pathname}`,
      `${pathname} is a control-plane call that lists the account's inference profiles; the CLI carries on without it`
    )
  }
  return refusal(`path ${method} ${pathname}`, `path not allowed: ${method} ${pathname}`)
}

/** The policy on Bedrock's request shape; pure. */
export function checkBedrockRequest(
  request: ProviderRequest,
  policy: PolicyOptions
): ProviderVerdict {
  const pathRefusal = checkBedrockPath(request.method, request.path)
  if (pathRefusal) return pathRefusal
  const model = modelFromPath(MODEL_PATH.exec(request.path)?.[1])
  if (typeof model !== 'string') return model
  return checkAsMessages(
    request,
    policy,
    { model, anthropicVersion: BEDROCK_ANTHROPIC_VERSION, upstreamPath: request.path },
    checkRequest
  )
}

export interface BedrockOptions {
  region: string
  /** Defaults to the SDK's node provider chain. */
  credentials?: AwsCredentialIdentityProvider
}

export function bedrockProvider(options: BedrockOptions): UpstreamProvider & {
  /** Resolves the credentials once (at start-up: a missing credential fails before any container). */
  verifyCredentials(): Promise<AwsCredentialIdentity>
} {
  const credentials = options.credentials ?? fromNodeProviderChain()
  const signer = new SignatureV4({
    service: SIGNING_SERVICE,
    region: options.region,
    credentials,
    sha256: Sha256
  })
  return {
    name: 'bedrock',
    label: `Amazon Bedrock (${options.region})`,
    credentialsRemedy:
      'Check that the role aws-actions/configure-aws-credentials assumed may call bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream on the model in this region, and that the model is enabled in the Bedrock console',
    checkPath: checkBedrockPath,
    check: checkBedrockRequest,
    async authorize(request: OutgoingRequest): Promise<OutgoingHttpHeaders> {
      const stream = request.path.split('?')[0]?.endsWith('/invoke-with-response-stream')
      // Only what Bedrock reads is sent (and signed): the CLI's own headers mean nothing there.
      const headers: Record<string, string> = {
        host: hostHeader(request),
        'content-type': 'application/json',
        accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json'
      }
      const [path = '/', query = ''] = request.path.split('?')
      try {
        const signed = await signer.sign({
          method: request.method,
          protocol: request.secure ? 'https:' : 'http:',
          hostname: request.hostname,
          port: request.port,
          path,
          query: Object.fromEntries(new URLSearchParams(query)),
          headers,
          body: request.body
        })
        return { ...(signed.headers as Record<string, string>) }
      } catch (error: unknown) {
        throw new CredentialsError(
          `no usable AWS credentials: ${error instanceof Error ? error.message : String(error)}`
        )
      }
    },
    tapFor(contentType: string): ResponseTap {
      return /application\/vnd\.amazon\.eventstream/i.test(contentType)
        ? new EventStreamTap()
        : messagesTapFor(contentType)
    },
    verifyCredentials: () => credentials()
  }
}

function hostHeader(request: OutgoingRequest): string {
  const host = request.hostname.includes(':') ? `[${request.hostname}]` : request.hostname
  const defaultPort = request.secure ? 443 : 80
  return request.port === defaultPort ? host : `${host}:${request.port}`
}
