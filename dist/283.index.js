export const id = 283;
export const ids = [283];
export const modules = {

/***/ 44283:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   adcTokenSource: () => (/* binding */ adcTokenSource),
/* harmony export */   vertexProvider: () => (/* binding */ vertexProvider)
/* harmony export */ });
/* unused harmony exports VERTEX_ANTHROPIC_VERSION, checkVertexPath, checkVertexRequest */
/* harmony import */ var _api_policy_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(9823);
/* harmony import */ var _usage_meter_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(77763);
/* harmony import */ var _provider_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(77288);



const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';
const MODEL_PATH = /^\/v1\/projects\/([^/?]+)\/locations\/([^/?]+)\/publishers\/anthropic\/models\/([A-Za-z0-9._@%-]{1,200}):(streamRawPredict|rawPredict)$/;
function checkVertexPath(method, path, place) {
    const [pathname = '', query] = path.split('?');
    const match = MODEL_PATH.exec(pathname);
    if (method !== 'POST' || !match || query !== undefined) {
        return (0,_provider_js__WEBPACK_IMPORTED_MODULE_1__/* .refusal */ .x5)(`path ${method} ${pathname}`, `path not allowed: ${method} ${pathname}`);
    }
    if (match[1] !== place.projectId || match[2] !== place.region) {
        return (0,_provider_js__WEBPACK_IMPORTED_MODULE_1__/* .refusal */ .x5)('project or region', `only project ${place.projectId} in ${place.region} is reachable, not ${match[1]} in ${match[2]}`);
    }
    return undefined;
}
function checkVertexRequest(request, policy, place) {
    const pathRefusal = checkVertexPath(request.method, request.path, place);
    if (pathRefusal)
        return pathRefusal;
    const model = (0,_provider_js__WEBPACK_IMPORTED_MODULE_1__/* .modelFromPath */ .B2)(MODEL_PATH.exec(request.path)?.[3]);
    if (typeof model !== 'string')
        return model;
    return (0,_provider_js__WEBPACK_IMPORTED_MODULE_1__/* .checkAsMessages */ .Fd)(request, policy, {
        model,
        anthropicVersion: VERTEX_ANTHROPIC_VERSION,
        // The upstream base ends in /v1, as the CLI's does.
        upstreamPath: request.path.slice('/v1'.length)
    }, _api_policy_js__WEBPACK_IMPORTED_MODULE_0__/* .checkRequest */ .yG);
}
function vertexProvider(place, token) {
    return {
        name: 'vertex',
        label: `Google Vertex AI (${place.projectId}, ${place.region})`,
        credentialsRemedy: 'Check that the identity google-github-actions/auth set up has roles/aiplatform.user on the project and that the Claude model is enabled in Vertex AI Model Garden for this region',
        checkPath: (method, path) => checkVertexPath(method, path, place),
        check: (request, policy) => checkVertexRequest(request, policy, place),
        async authorize(request) {
            let accessToken;
            try {
                accessToken = await token();
            }
            catch (error) {
                throw new _provider_js__WEBPACK_IMPORTED_MODULE_1__/* .CredentialsError */ .lE(`no Google access token: ${error instanceof Error ? error.message : String(error)}`);
            }
            return { ...request.headers, authorization: `Bearer ${accessToken}` };
        },
        tapFor: _usage_meter_js__WEBPACK_IMPORTED_MODULE_2__/* .tapFor */ .T
    };
}
/** An access-token source from Application Default Credentials (loaded only for Vertex). */
async function adcTokenSource(projectId) {
    const { GoogleAuth } = await __webpack_require__.e(/* import() */ 492).then(__webpack_require__.t.bind(__webpack_require__, 492, 19));
    const auth = new GoogleAuth({
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
        // Given, so the library never asks cloudresourcemanager for it.
        projectId
    });
    const client = await auth.getClient();
    return async () => {
        const { token } = await client.getAccessToken();
        if (!token)
            throw new Error('Application Default Credentials gave no access token');
        return token;
    };
}


/***/ })

};
