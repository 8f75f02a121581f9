export const id = 866;
export const ids = [866];
export const modules = {

/***/ 29485:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  bedrockProvider: () => (/* binding */ bedrockProvider)
});

// UNUSED EXPORTS: BEDROCK_ANTHROPIC_VERSION, checkBedrockPath, checkBedrockRequest

// EXTERNAL MODULE: ./node_modules/@aws-crypto/sha256-js/build/main/index.js
var main = __webpack_require__(23156);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/credential-providers/dist-cjs/index.js
var dist_cjs = __webpack_require__(29719);
// EXTERNAL MODULE: ./node_modules/@smithy/signature-v4/dist-cjs/index.js
var signature_v4_dist_cjs = __webpack_require__(75118);
// EXTERNAL MODULE: ./.bundle-js/api-door/api-policy.js
var api_policy = __webpack_require__(9823);
// EXTERNAL MODULE: ./.bundle-js/api-door/usage-meter.js
var usage_meter = __webpack_require__(77763);
// EXTERNAL MODULE: ./node_modules/@smithy/core/dist-cjs/submodules/event-streams/index.js
var event_streams = __webpack_require__(56579);
// EXTERNAL MODULE: ./node_modules/@smithy/util-utf8/dist-cjs/index.js
var util_utf8_dist_cjs = __webpack_require__(71577);
;// CONCATENATED MODULE: ./.bundle-js/api-door/providers/bedrock-stream.js
/**
 * Reads the usage of Bedrock's streamed answers (`application/vnd.amazon.eventstream`): binary
 * frames, each decoded with the AWS SDK's own event-stream codec (it checks both CRCs); a
 * `chunk` event's body is `{"bytes": base64(one Anthropic stream event)}`, and those events are
 * read exactly as the Messages API's server-sent events are (usage-meter.ts). Frames are taken
 * as they arrive, whatever the chunking; memory is bounded by the largest frame.
 */



/** A frame larger than this is not Bedrock's: stop reading (the bytes still pass through). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const codec = new event_streams.EventStreamCodec(util_utf8_dist_cjs/* toUtf8 */.Pq, util_utf8_dist_cjs/* fromUtf8 */.ar);
class EventStreamTap {
    events = (0,usage_meter/* eventsTap */.X)();
    pending = [];
    pendingBytes = 0;
    broken = false;
    push(chunk) {
        if (this.broken)
            return;
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        if (this.pendingBytes < 4)
            return;
        let buffer = this.pending.length === 1 ? chunk : Buffer.concat(this.pending);
        let offset = 0;
        while (buffer.length - offset >= 4) {
            const total = buffer.readUInt32BE(offset);
            if (total < 16 || total > MAX_FRAME_BYTES) {
                this.broken = true;
                break;
            }
            if (buffer.length - offset < total)
                break;
            this.frame(buffer.subarray(offset, offset + total));
            offset += total;
            if (this.broken)
                break;
        }
        buffer = buffer.subarray(offset);
        this.pending = buffer.length > 0 && !this.broken ? [buffer] : [];
        this.pendingBytes = this.pending.length > 0 ? buffer.length : 0;
    }
    frame(bytes) {
        let message;
        try {
            message = codec.decode(bytes);
        }
        catch {
            this.broken = true;
            return;
        }
        if (message.headers[':message-type']?.value !== 'event')
            return;
        if (message.headers[':event-type']?.value !== 'chunk')
            return;
        let encoded;
        try {
            encoded = JSON.parse((0,util_utf8_dist_cjs/* toUtf8 */.Pq)(message.body)).bytes;
        }
        catch {
            return;
        }
        if (typeof encoded !== 'string')
            return;
        this.events.event(Buffer.from(encoded, 'base64'));
    }
    finish() {
        return this.events.finish();
    }
}

// EXTERNAL MODULE: ./.bundle-js/api-door/providers/provider.js
var provider = __webpack_require__(77288);
;// CONCATENATED MODULE: ./.bundle-js/api-door/providers/bedrock.js
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







const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
/** The signing name of the bedrock-runtime endpoint. */
const SIGNING_SERVICE = 'bedrock';
/** `/model/{id}/invoke` or `/model/{id}/invoke-with-response-stream`; the id as sent (encoded or not). */
const MODEL_PATH = /^\/model\/([A-Za-z0-9._:%-]{1,200})\/(invoke|invoke-with-response-stream)$/;
function checkBedrockPath(method, path) {
    const [pathname = '', query] = path.split('?');
    if (method === 'POST' && MODEL_PATH.test(pathname) && query === undefined)
        return undefined;
    if (pathname === '/inference-profiles') {
        return (0,provider/* refusal */.x5)(`path ${method} ${pathname}`, `${pathname} is a control-plane call that lists the account's inference profiles; the CLI carries on without it`);
    }
    return (0,provider/* refusal */.x5)(`path ${method} ${pathname}`, `path not allowed: ${method} ${pathname}`);
}
/** The policy on Bedrock's request shape; pure. */
function checkBedrockRequest(request, policy) {
    const pathRefusal = checkBedrockPath(request.method, request.path);
    if (pathRefusal)
        return pathRefusal;
    const model = (0,provider/* modelFromPath */.B2)(MODEL_PATH.exec(request.path)?.[1]);
    if (typeof model !== 'string')
        return model;
    return (0,provider/* checkAsMessages */.Fd)(request, policy, { model, anthropicVersion: BEDROCK_ANTHROPIC_VERSION, upstreamPath: request.path }, api_policy/* checkRequest */.yG);
}
function bedrockProvider(options) {
    const credentials = options.credentials ?? (0,dist_cjs/* fromNodeProviderChain */.br)();
    const signer = new signature_v4_dist_cjs.SignatureV4({
        service: SIGNING_SERVICE,
        region: options.region,
        credentials,
        sha256: main.Sha256
    });
    return {
        name: 'bedrock',
        label: `Amazon Bedrock (${options.region})`,
        credentialsRemedy: 'Check that the role aws-actions/configure-aws-credentials assumed may call bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream on the model in this region, and that the model is enabled in the Bedrock console',
        checkPath: checkBedrockPath,
        check: checkBedrockRequest,
        async authorize(request) {
            const stream = request.path.split('?')[0]?.endsWith('/invoke-with-response-stream');
            // Only what Bedrock reads is sent (and signed): the CLI's own headers mean nothing there.
            const headers = {
                host: hostHeader(request),
                'content-type': 'application/json',
                accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json'
            };
            const [path = '/', query = ''] = request.path.split('?');
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
                });
                return { ...signed.headers };
            }
            catch (error) {
                throw new provider/* CredentialsError */.lE(`no usable AWS credentials: ${error instanceof Error ? error.message : String(error)}`);
            }
        },
        tapFor(contentType) {
            return /application\/vnd\.amazon\.eventstream/i.test(contentType)
                ? new EventStreamTap()
                : (0,usage_meter/* tapFor */.T)(contentType);
        },
        verifyCredentials: () => credentials()
    };
}
function hostHeader(request) {
    const host = request.hostname.includes(':') ? `[${request.hostname}]` : request.hostname;
    const defaultPort = request.secure ? 443 : 80;
    return request.port === defaultPort ? host : `${host}:${request.port}`;
}


/***/ })

};
