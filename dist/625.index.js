export const id = 625;
export const ids = [625];
export const modules = {

/***/ 93625:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  publish: () => (/* binding */ publish)
});

// UNUSED EXPORTS: resolvePublishMode

// EXTERNAL MODULE: ./.bundle-js/errors.js
var errors = __webpack_require__(94947);
// EXTERNAL MODULE: ./.bundle-js/github/client.js + 1 modules
var github_client = __webpack_require__(98260);
// EXTERNAL MODULE: ./.bundle-js/report/comment.js
var report_comment = __webpack_require__(60380);
// EXTERNAL MODULE: ./.bundle-js/github/context.js
var github_context = __webpack_require__(5631);
;// CONCATENATED MODULE: ./.bundle-js/github/git-data.js

const CONTENTS_WRITE = ['contents: write'];
const MAX_ENTRIES_PER_REQUEST = 1000;
function entryMode(mode) {
    if (mode === '100755' || mode === '120000' || mode === '160000')
        return mode;
    return '100644';
}
function typeFor(mode) {
    return mode === '160000' ? 'commit' : mode === '040000' ? 'tree' : 'blob';
}
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Bytes that survive a trip through a JSON string unchanged: valid UTF-8 without NUL. */
function asText(bytes) {
    if (bytes.includes(0))
        return undefined;
    try {
        const text = utf8.decode(bytes);
        return Buffer.byteLength(text, 'utf8') === bytes.length ? text : undefined;
    }
    catch {
        return undefined;
    }
}
function deletion(path, oldMode) {
    const mode = entryMode(oldMode);
    return { path, mode, type: typeFor(mode), sha: null };
}
/** True when one path is a directory prefix of another (a file becomes a directory, or back). */
function directoryClash(deleted, written) {
    const all = new Set([...deleted, ...written]);
    for (const path of all) {
        const parts = path.split('/');
        for (let i = 1; i < parts.length; i++) {
            if (all.has(parts.slice(0, i).join('/')))
                return true;
        }
    }
    return false;
}
async function writeTree(options) {
    const { client, repo } = options;
    const batchLimit = options.batchBytes ?? 2_000_000;
    const inlineMax = options.inlineMaxBytes ?? 1024 * 1024;
    let tree = options.baseTree;
    let treeRequests = 0;
    let blobRequests = 0;
    const deletions = [];
    const writes = [];
    for (const file of options.files) {
        if (file.status === 'deleted') {
            deletions.push(deletion(file.path, file.oldMode));
            continue;
        }
        if (file.status === 'renamed' && file.oldPath !== undefined) {
            deletions.push(deletion(file.oldPath, file.oldMode));
        }
        writes.push(file);
    }
    let batch = [];
    let batchSize = 0;
    const flush = async () => {
        if (batch.length === 0)
            return;
        const entries = batch;
        batch = [];
        batchSize = 0;
        const response = await (0,github_client/* attempt */.CD)({ what: 'create a git tree', permissions: CONTENTS_WRITE }, () => client.rest.git.createTree({ ...repo, base_tree: tree, tree: entries }));
        tree = response.data.sha;
        treeRequests++;
    };
    const add = async (entry) => {
        const size = JSON.stringify(entry).length + 1;
        if (batch.length > 0 &&
            (batchSize + size > batchLimit || batch.length >= MAX_ENTRIES_PER_REQUEST)) {
            await flush();
        }
        batch.push(entry);
        batchSize += size;
    };
    for (const entry of deletions)
        await add(entry);
    // When a file turns into a directory (or back), the removal must land before the addition.
    if (directoryClash(deletions.map(d => d.path), writes.map(w => w.path)))
        await flush();
    // Read contents in groups of about one request's worth, so memory stays near one batch.
    let group = [];
    let groupBytes = 0;
    const processGroup = async () => {
        const shas = group.flatMap(f => (f.newSha && f.newMode !== '160000' ? [f.newSha] : []));
        const contents = await options.readBlobs(shas);
        for (const file of group) {
            const mode = entryMode(file.newMode);
            if (!file.newSha)
                throw new Error(`${JSON.stringify(file.path)} has no new object id`);
            if (mode === '160000') {
                await add({ path: file.path, mode, type: 'commit', sha: file.newSha });
                continue;
            }
            const bytes = contents.get(file.newSha);
            if (!bytes)
                throw new Error(`the content of ${JSON.stringify(file.path)} is missing`);
            // Empty files go as blobs: the API documents empty blobs, not empty inline content.
            const text = bytes.length > 0 && bytes.length <= inlineMax ? asText(bytes) : undefined;
            if (text !== undefined) {
                await add({ path: file.path, mode, type: 'blob', content: text });
                continue;
            }
            const blob = await (0,github_client/* attempt */.CD)({ what: `upload ${JSON.stringify(file.path)}`, permissions: CONTENTS_WRITE }, () => client.rest.git.createBlob({
                ...repo,
                content: bytes.toString('base64'),
                encoding: 'base64'
            }));
            blobRequests++;
            if (blob.data.sha !== file.newSha) {
                throw new Error(`GitHub stored ${JSON.stringify(file.path)} as ${blob.data.sha}, expected ${file.newSha}; nothing was published`);
            }
            await add({ path: file.path, mode, type: 'blob', sha: blob.data.sha });
        }
        group = [];
        groupBytes = 0;
    };
    for (const file of writes) {
        const size = file.size ?? 0;
        if (group.length > 0 && groupBytes + size > batchLimit)
            await processGroup();
        group.push(file);
        groupBytes += size;
    }
    await processGroup();
    await flush();
    options.log?.info(`Sent the change as ${treeRequests} tree request(s) and ${blobRequests} blob upload(s)`);
    return { tree, treeRequests, blobRequests };
}
/** The tree of a commit. */
async function commitTree(client, repo, sha) {
    const commit = await (0,github_client/* attempt */.CD)({ what: `read commit ${sha.slice(0, 12)}`, permissions: ['contents: read'] }, () => client.rest.git.getCommit({ ...repo, commit_sha: sha }));
    return commit.data.tree.sha;
}
async function createCommit(client, repo, commit) {
    // No author or committer: GitHub then signs the commit as the token's identity.
    const response = await (0,github_client/* attempt */.CD)({ what: 'create the commit', permissions: CONTENTS_WRITE }, () => client.rest.git.createCommit({
        ...repo,
        message: commit.message,
        tree: commit.tree,
        parents: [commit.parent]
    }));
    return response.data.sha;
}
/** The commit a branch points at, or undefined when it does not exist. */
async function branchHead(client, repo, branch) {
    try {
        const response = await client.rest.git.getRef({ ...repo, ref: `heads/${branch}` });
        return response.data.object.sha;
    }
    catch (error) {
        if (typeof error === 'object' &&
            error !== null &&
            error.status === 404) {
            return undefined;
        }
        throw error;
    }
}
/** Every entry of a tree, recursively, or undefined when GitHub truncated the listing. */
async function listTree(client, repo, tree) {
    const response = await (0,github_client/* attempt */.CD)({ what: 'read the branch tree', permissions: ['contents: read'] }, () => client.rest.git.getTree({ ...repo, tree_sha: tree, recursive: 'true' }));
    if (response.data.truncated)
        return undefined;
    const entries = new Map();
    for (const e of response.data.tree) {
        if (e.path && e.sha && e.mode && e.type)
            entries.set(e.path, { path: e.path, mode: e.mode, type: e.type, sha: e.sha });
    }
    return entries;
}

;// CONCATENATED MODULE: ./.bundle-js/github/pull-request.js



/** The branch pull-request mode uses unless `branch` says otherwise: one per workflow and job. */
function defaultBranchName(context) {
    const slug = (text) => text
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, '-')
        .replace(/\.{2,}/g, '.')
        .replace(/^[-.]+|[-.]+$/g, '')
        .slice(0, 50) || 'run';
    return `claude-sandbox/${slug(context.workflow)}-${slug(context.job)}`;
}
/** git check-ref-format's rules for a branch name, checked before GitHub is asked. */
function validateBranchName(name, input) {
    const bad = name === '' ||
        name.startsWith('-') ||
        name.startsWith('/') ||
        name.endsWith('/') ||
        name.endsWith('.') ||
        name.endsWith('.lock') ||
        name.includes('..') ||
        name.includes('//') ||
        name.includes('@{') ||
        name.split('/').some(part => part.startsWith('.')) ||
        // eslint-disable-next-line no-control-regex
        /[\u0000-\u0020\u007f~^:?*[\\]/.test(name);
    if (bad) {
        throw new errors/* ConfigurationError */.j(`\`${input}\` is not a valid branch name: ${JSON.stringify(name)}`, 'Use letters, digits, "-", "_", "." and "/"');
    }
}
async function defaultBaseBranch(client, repo, context) {
    const repository = context.payload.repository;
    if (typeof repository?.default_branch === 'string' && repository.default_branch !== '') {
        return repository.default_branch;
    }
    const response = await (0,github_client/* attempt */.CD)({ what: 'read the repository', permissions: ['contents: read'] }, () => client.rest.repos.get({ ...repo }));
    return response.data.default_branch;
}
/**
 * Points `branch` at `commit`, creating it if needed. The branch belongs to this workflow and
 * job (it is derived from their names, or named by the user for this purpose), so it is reset
 * rather than fast-forwarded: each run proposes the change on top of the current base, and a
 * scheduled rerun replaces its previous proposal instead of stacking onto an outdated one.
 */
async function resetBranch(client, repo, branch, commit) {
    const op = { what: `push the branch ${branch}`, permissions: ['contents: write'] };
    const current = await (0,github_client/* attempt */.CD)(op, () => branchHead(client, repo, branch));
    if (current === undefined) {
        await (0,github_client/* attempt */.CD)(op, () => client.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha: commit }));
        return 'created';
    }
    await (0,github_client/* attempt */.CD)(op, () => client.rest.git.updateRef({ ...repo, ref: `heads/${branch}`, sha: commit, force: true }));
    return 'reset';
}
/** Opens a pull request from `branch`, or updates the open one, so reruns keep a single PR. */
async function openOrUpdatePullRequest(client, repo, spec) {
    const read = { what: 'list open pull requests', permissions: ['pull-requests: read'] };
    const write = {
        what: `open a pull request from ${spec.branch}`,
        permissions: ['pull-requests: write']
    };
    const open = await (0,github_client/* attempt */.CD)(read, () => client.rest.pulls.list({
        ...repo,
        head: `${repo.owner}:${spec.branch}`,
        state: 'open',
        per_page: 10
    }));
    const existing = open.data[0];
    let result;
    if (existing) {
        const response = await (0,github_client/* attempt */.CD)({ what: `update pull request #${existing.number}`, permissions: ['pull-requests: write'] }, () => client.rest.pulls.update({
            ...repo,
            pull_number: existing.number,
            title: spec.title,
            body: spec.body,
            ...(existing.base.ref !== spec.base ? { base: spec.base } : {})
        }));
        result = { number: response.data.number, url: response.data.html_url, created: false };
    }
    else {
        const response = await (0,github_client/* attempt */.CD)(write, () => client.rest.pulls.create({
            ...repo,
            head: spec.branch,
            base: spec.base,
            title: spec.title,
            body: spec.body,
            draft: spec.draft
        }));
        result = { number: response.data.number, url: response.data.html_url, created: true };
    }
    if (spec.labels.length > 0) {
        await (0,github_client/* attempt */.CD)({ what: `label pull request #${result.number}`, permissions: ['pull-requests: write'] }, () => client.rest.issues.addLabels({ ...repo, issue_number: result.number, labels: spec.labels }));
    }
    return result;
}

// EXTERNAL MODULE: ./.bundle-js/github/sticky-comment.js
var sticky_comment = __webpack_require__(27349);
// EXTERNAL MODULE: ./.bundle-js/continuation/thread.js
var continuation_thread = __webpack_require__(54414);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: ./.bundle-js/git/git.js
var git_git = __webpack_require__(45417);
;// CONCATENATED MODULE: ./.bundle-js/github/blobs.js

/**
 * Reads many blobs from a repository's object store with one `git cat-file --batch` per call:
 * publishing 2,000 files must not start 2,000 git processes.
 */
async function readBlobs(workspace, shas) {
    const out = new Map();
    const unique = [...new Set(shas)];
    if (unique.length === 0)
        return out;
    const result = await (0,git_git/* createGit */.lD)(workspace).run(['cat-file', '--batch'], {
        input: unique.map(sha => `${sha}\n`).join('')
    });
    const data = result.stdout;
    let offset = 0;
    while (offset < data.length) {
        const headerEnd = data.indexOf(0x0a, offset);
        if (headerEnd < 0)
            break;
        const header = data.subarray(offset, headerEnd).toString('utf8');
        const [sha, type, size] = header.split(' ');
        if (type === 'missing' || size === undefined) {
            throw new Error(`object ${sha ?? header} is missing from ${workspace}`);
        }
        const length = Number(size);
        // Copy out of the combined buffer so a kept blob does not pin the whole batch in memory.
        out.set(sha, Buffer.from(data.subarray(headerEnd + 1, headerEnd + 1 + length)));
        offset = headerEnd + 1 + length + 1;
    }
    return out;
}

;// CONCATENATED MODULE: ./.bundle-js/github/commit.js





async function commitOnto(options) {
    const { client, repo, staged, parent } = options;
    const parentTree = await commitTree(client, repo, parent);
    const localBaseTree = staged.baseCommit
        ? await (0,git_git/* createGit */.lD)(options.workspace).text(['rev-parse', `${staged.baseCommit}^{tree}`])
        : undefined;
    const sameBase = localBaseTree === parentTree;
    if (!sameBase)
        await requireSameFiles(options, parentTree);
    const { tree } = await writeTree({
        client,
        repo,
        baseTree: parentTree,
        files: staged.files,
        readBlobs: shas => readBlobs(options.workspace, shas),
        ...(options.log ? { log: options.log } : {}),
        ...(options.batchBytes ? { batchBytes: options.batchBytes } : {})
    });
    // Same starting tree, same change: GitHub's result must be the tree git computed locally. A
    // difference means content was altered on the way; stop before any branch points at it.
    if (sameBase && tree !== staged.tree) {
        throw new Error(`GitHub built tree ${tree} but the change is tree ${staged.tree} locally; nothing was published`);
    }
    if (tree === parentTree)
        return { tree };
    const commit = await createCommit(client, repo, { message: options.message, tree, parent });
    return { commit, tree };
}
/** Fails unless every path the change touches is the same in `parentTree` as in the checkout. */
async function requireSameFiles(options, parentTree) {
    const entries = await listTree(options.client, options.repo, parentTree);
    const base = options.staged.baseCommit?.slice(0, 12) ?? 'an empty repository';
    if (!entries) {
        throw new errors/* ConfigurationError */.j(`The checkout (${base}) is not ${options.parentLabel}, and the repository is too large to compare the changed files through the API`, 'Check out the branch the change is published to (for a pull request: `ref: ${{ github.event.pull_request.head.sha }}` in actions/checkout)');
    }
    const differing = [];
    for (const file of options.staged.files) {
        const expectations = [];
        if (file.status === 'renamed' && file.oldPath !== undefined) {
            expectations.push([file.oldPath, file.oldSha], [file.path, undefined]);
        }
        else if (file.status === 'copied') {
            expectations.push([file.path, undefined]);
        }
        else {
            expectations.push([file.path, file.status === 'added' ? undefined : file.oldSha]);
        }
        for (const [path, sha] of expectations) {
            const entry = entries.get(path);
            if ((entry?.sha ?? undefined) !== sha)
                differing.push(path);
        }
    }
    if (differing.length > 0) {
        const shown = differing
            .slice(0, 20)
            .map(p => JSON.stringify(p))
            .join(', ');
        const more = differing.length > 20 ? ` and ${differing.length - 20} more` : '';
        throw new errors/* ConfigurationError */.j(`The checkout (${base}) is not ${options.parentLabel}, and ${differing.length} changed file(s) differ between them: ${shown}${more}; nothing was published`, 'Rerun the workflow on the current head, or check out the branch the change is published to ' +
            '(for a pull request: `ref: ${{ github.event.pull_request.head.sha }}` in actions/checkout)');
    }
    options.log?.info(`The checkout is not ${options.parentLabel}, but every changed file is the same in both`);
}
function branchMovedError(branch, expected, actual) {
    const now = actual ? `is now at ${actual.slice(0, 12)}` : 'no longer exists';
    return new errors/* ConfigurationError */.j(`The branch moved: \`${branch}\` ${now}, not at ${expected.slice(0, 12)} where this run started; nothing was committed so that the new commits are not overwritten`, 'Rerun the workflow to work on the new head');
}
/** Moves `branch` to `commit` only as a fast-forward; a 422 means someone pushed meanwhile. */
async function fastForward(client, repo, branch, commit, expected) {
    try {
        await (0,github_client/* attempt */.CD)({ what: `update the branch ${branch}`, permissions: ['contents: write'] }, () => client.rest.git.updateRef({ ...repo, ref: `heads/${branch}`, sha: commit, force: false }));
    }
    catch (error) {
        if ((0,github_client/* isHttpError */.d)(error) && error.status === 422) {
            let actual;
            try {
                actual = (await client.rest.git.getRef({ ...repo, ref: `heads/${branch}` })).data.object.sha;
            }
            catch {
                actual = undefined;
            }
            throw branchMovedError(branch, expected, actual);
        }
        throw error;
    }
}

;// CONCATENATED MODULE: ./.bundle-js/github/modes/publisher.js




/**
 * The pull request of the event: from the payload, or read through the API for a PR comment
 * (or always, with `fresh`, to know its head now).
 */
async function pullRequestOf(client, s, fresh = false) {
    const number = (0,github_context/* pullRequestNumber */.Kd)(s.request.context);
    if (number === undefined)
        return undefined;
    let pr = s.request.context.payload.pull_request;
    if (fresh || !pr?.head?.ref) {
        const response = await (0,github_client/* attempt */.CD)({ what: `read pull request #${number}`, permissions: ['pull-requests: read'] }, () => client.rest.pulls.get({ ...s.repo, pull_number: number }));
        pr = response.data;
    }
    const head = pr.head ?? {};
    return {
        number,
        headRef: head.ref ?? '',
        headSha: head.sha ?? '',
        ...(head.repo?.full_name ? { headRepo: head.repo.full_name } : {})
    };
}
function filesForReport(files) {
    return files.map(f => ({
        path: f.path,
        status: f.status,
        insertions: f.insertions,
        deletions: f.deletions,
        binary: f.binary,
        ...(f.oldPath === undefined ? {} : { oldPath: f.oldPath }),
        ...(f.size === undefined ? {} : { size: f.size }),
        ...(f.newMode === undefined ? {} : { newMode: f.newMode }),
        ...(f.oldMode === undefined ? {} : { oldMode: f.oldMode })
    }));
}
/** What the comment, the review and the pull request body say about the run. */
function reportFields(s, staged) {
    const { report, context } = s.request;
    const fields = {
        conclusion: report.conclusion,
        files: filesForReport(staged.files),
        insertions: staged.insertions,
        deletions: staged.deletions,
        runUrl: (0,github_context/* runUrl */.Vp)(context),
        runId: context.runId,
        repository: `${context.owner}/${context.repo}`,
        patchFileName: external_node_path_.basename(s.request.patchPath)
    };
    const optional = {
        outcomeMessage: report.outcomeMessage,
        finalMessage: report.finalMessage,
        numTurns: report.numTurns,
        durationMs: report.durationMs,
        costUsd: report.costUsd,
        inputTokens: report.inputTokens,
        outputTokens: report.outputTokens,
        artifactName: report.artifactName,
        artifactUrl: report.artifactUrl
    };
    for (const [key, value] of Object.entries(optional)) {
        if (value !== undefined)
            Object.assign(fields, { [key]: value });
    }
    return fields;
}
function defaultCommitMessage(context) {
    return `Apply changes from Claude Code\n\nWorkflow "${context.workflow}", job "${context.job}": ${(0,github_context/* runUrl */.Vp)(context)}\n`;
}
/**
 * Commits the staged change onto `parent`, the head of `branch`, with the run's commit message
 * (the commit and pull-request modes both publish this way). No commit when the branch already
 * has this content.
 */
function commitStagedOnto(client, s, staged, parent, branch) {
    const { context, settings } = s.request;
    return commitOnto({
        client,
        repo: s.repo,
        workspace: s.stagingRepository,
        staged,
        parent,
        message: settings.commitMessage ?? defaultCommitMessage(context),
        log: s.log,
        parentLabel: `the head of \`${branch}\``,
        ...(s.request.batchBytes ? { batchBytes: s.request.batchBytes } : {})
    });
}

;// CONCATENATED MODULE: ./.bundle-js/github/modes/comment.js








const commentPublisher = {
    async target(client, s) {
        const { context } = s.request;
        const number = (0,github_context/* issueNumber */.Pp)(context);
        if (number === undefined) {
            const warning = `publish: comment needs a pull request or issue to comment on, and the ${context.eventName || 'current'} event has none; only the patch was written`;
            s.log.warning(warning);
            return {
                kind: 'done',
                result: {
                    mode: 'patch',
                    message: 'Wrote the patch only (nothing to comment on)',
                    warnings: [...s.warnings, warning]
                }
            };
        }
        return {
            kind: 'target',
            target: {
                number,
                notes: [],
                base: () => commentBase(client, s),
                baseLabel: 'the pull request head'
            }
        };
    },
    async publish(client, s, target, staged) {
        return postComment(client, s, target, staged);
    }
};
async function postComment(client, s, target, staged) {
    const { context } = s.request;
    const patch = staged.files.length > 0 ? s.patchText : '';
    const marker = (0,report_comment/* stickyMarker */.YL)(context.workflow, context.job);
    const thread = s.request.report.thread;
    const rendered = (0,report_comment/* renderComment */.wQ)({ ...reportFields(s, staged), marker, patch, notes: target.notes }, (0,continuation_thread/* followUpLimit */.A$)(thread));
    const body = thread ? (0,continuation_thread/* threadedBody */.Mz)(marker, thread, rendered.slice(marker.length)) : rendered;
    const onPullRequest = (0,github_context/* pullRequestNumber */.Kd)(context) !== undefined;
    const comment = await (0,sticky_comment/* upsertStickyComment */.q)(client, s.repo, target.number, marker, body, onPullRequest);
    s.log.info(`${comment.created ? 'Created' : 'Updated'} the comment ${comment.url}`);
    return {
        mode: 'comment',
        commentUrl: comment.url,
        message: `${comment.created ? 'Posted' : 'Updated'} the comment on #${target.number}`,
        warnings: s.warnings
    };
}
/** What a comment's patch is staged against without a checkout: the PR head, else the default branch. */
async function commentBase(client, s) {
    const pr = await pullRequestOf(client, s);
    if (pr?.headSha)
        return pr.headSha;
    const branch = await defaultBaseBranch(client, s.repo, s.request.context);
    const head = await branchHead(client, s.repo, branch);
    if (!head)
        throw new errors/* ConfigurationError */.j(`The default branch \`${branch}\` does not exist`);
    return head;
}

;// CONCATENATED MODULE: ./.bundle-js/github/modes/commit.js





const commitPublisher = {
    async target(client, s) {
        const { context } = s.request;
        const pr = await pullRequestOf(client, s);
        let branch;
        let expected;
        if (pr) {
            const ours = `${context.owner}/${context.repo}`.toLowerCase();
            if (pr.headRepo?.toLowerCase() !== ours) {
                const from = pr.headRepo ?? 'a deleted fork';
                return {
                    kind: 'comment-instead',
                    note: `Pull request #${pr.number} comes from ${from}, where this workflow cannot push; the change is posted as a comment instead of a commit`
                };
            }
            branch = pr.headRef;
            // The head when the event fired; for a comment-triggered run, the commit that was checked out.
            expected =
                pr.headSha && context.payload.pull_request ? pr.headSha : (s.checkoutHead ?? pr.headSha);
        }
        else if (context.ref?.startsWith('refs/heads/')) {
            branch = context.ref.slice('refs/heads/'.length);
            expected = context.sha ?? s.checkoutHead ?? '';
        }
        else {
            throw new errors/* ConfigurationError */.j(`publish: commit needs a pull request or a branch, and this run is on ${context.ref ?? 'no ref'}`, 'Use publish: pull-request (or comment) for this trigger');
        }
        return {
            kind: 'target',
            target: {
                branch,
                expected,
                base: () => Promise.resolve(expected),
                baseLabel: `the head of \`${branch}\``
            }
        };
    },
    async publish(client, s, { branch, expected }, staged) {
        if (staged.files.length === 0) {
            return { mode: 'commit', message: 'No changes: nothing was committed', warnings: s.warnings };
        }
        const current = await (0,github_client/* attempt */.CD)({ what: `read the branch ${branch}`, permissions: ['contents: read'] }, () => branchHead(client, s.repo, branch));
        if (current !== expected)
            throw branchMovedError(branch, expected, current);
        const { commit } = await commitStagedOnto(client, s, staged, current, branch);
        if (!commit) {
            return {
                mode: 'commit',
                message: `No changes: \`${branch}\` already has this content; nothing was committed`,
                warnings: s.warnings
            };
        }
        await fastForward(client, s.repo, branch, commit, current);
        s.log.info(`Committed ${commit} to ${branch}`);
        return {
            mode: 'commit',
            commitSha: commit,
            message: `Committed ${staged.files.length} file(s) to \`${branch}\` as ${commit.slice(0, 12)}`,
            warnings: s.warnings
        };
    }
};

// EXTERNAL MODULE: ./.bundle-js/git/patch-digest.js
var patch_digest = __webpack_require__(39152);
;// CONCATENATED MODULE: ./.bundle-js/github/modes/pull-request.js







const pullRequestPublisher = {
    async target(client, s) {
        const { context, settings } = s.request;
        const branch = settings.branch ?? defaultBranchName(context);
        validateBranchName(branch, settings.branch ? 'branch' : 'the default branch name');
        const baseBranch = settings.baseBranch ?? (await defaultBaseBranch(client, s.repo, context));
        if (settings.baseBranch)
            validateBranchName(baseBranch, 'base-branch');
        if (branch === baseBranch) {
            throw new errors/* ConfigurationError */.j(`\`branch\` and \`base-branch\` are both \`${baseBranch}\``, 'pull-request mode commits to its own branch; name another `branch` (or use publish: commit)');
        }
        if (s.staged?.files.length === 0)
            return { kind: 'done', result: noChanges(s.warnings) };
        const baseHead = await (0,github_client/* attempt */.CD)({ what: `read the base branch ${baseBranch}`, permissions: ['contents: read'] }, () => branchHead(client, s.repo, baseBranch));
        if (!baseHead) {
            throw new errors/* ConfigurationError */.j(`The base branch \`${baseBranch}\` does not exist in ${context.owner}/${context.repo}`, 'Set `base-branch` to an existing branch');
        }
        return {
            kind: 'target',
            target: {
                branch,
                baseBranch,
                baseHead,
                base: () => Promise.resolve(baseHead),
                baseLabel: `the head of \`${baseBranch}\``
            }
        };
    },
    async publish(client, s, { branch, baseBranch, baseHead }, staged) {
        const { context, settings } = s.request;
        if (staged.files.length === 0)
            return noChanges(s.warnings);
        const { commit } = await commitStagedOnto(client, s, staged, baseHead, baseBranch);
        if (!commit) {
            return {
                mode: 'pull-request',
                message: `No changes: \`${baseBranch}\` already has this content; nothing was committed and no pull request opened`,
                warnings: s.warnings
            };
        }
        const how = await resetBranch(client, s.repo, branch, commit);
        s.log.info(`${how === 'created' ? 'Created' : 'Reset'} the branch ${branch} at ${commit}`);
        const body = (0,report_comment/* renderPullRequestBody */.XC)({
            ...reportFields(s, staged),
            digest: (0,patch_digest/* digestPatchText */.w4)(s.patchText),
            ...(settings.prBody ? { userBody: settings.prBody } : {}),
            workflow: context.workflow,
            job: context.job,
            branch
        });
        const pr = await openOrUpdatePullRequest(client, s.repo, {
            branch,
            base: baseBranch,
            title: settings.prTitle ?? `Changes from Claude Code (${context.workflow})`,
            body,
            draft: settings.prDraft,
            labels: settings.prLabels
        });
        s.log.info(`${pr.created ? 'Opened' : 'Updated'} pull request ${pr.url}`);
        return {
            mode: 'pull-request',
            commitSha: commit,
            pullRequestUrl: pr.url,
            pullRequestNumber: pr.number,
            message: `${pr.created ? 'Opened' : 'Updated'} pull request #${pr.number} from \`${branch}\` (${staged.files.length} file(s))`,
            warnings: s.warnings
        };
    }
};
function noChanges(warnings) {
    return {
        mode: 'pull-request',
        message: 'No changes: nothing was committed and no pull request opened',
        warnings
    };
}

;// CONCATENATED MODULE: ./.bundle-js/github/suggestions.js

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
/** Parses a file section's hunks (everything from the first `@@`). */
function parseHunks(section) {
    const lines = section.split('\n');
    const hunks = [];
    let i = 0;
    while (i < lines.length) {
        const header = HUNK_HEADER.exec(lines[i]);
        if (!header) {
            i++;
            continue;
        }
        const hunk = {
            oldStart: Number(header[1]),
            oldLines: header[2] === undefined ? 1 : Number(header[2]),
            newStart: Number(header[3]),
            newLines: header[4] === undefined ? 1 : Number(header[4]),
            lines: [],
            text: ''
        };
        const first = i++;
        let oldLeft = hunk.oldLines;
        let newLeft = hunk.newLines;
        // Count lines rather than look for the next header: a removed line may read "-@@ ...".
        while (i < lines.length && (oldLeft > 0 || newLeft > 0 || lines[i]?.startsWith('\\'))) {
            const line = lines[i];
            const kind = line.charAt(0);
            if (kind === '\\') {
                const last = hunk.lines[hunk.lines.length - 1];
                if (last)
                    last.noNewline = true;
            }
            else if (kind === ' ' || kind === '-' || kind === '+') {
                hunk.lines.push({ kind, text: line.slice(1), noNewline: false });
                if (kind !== '+')
                    oldLeft--;
                if (kind !== '-')
                    newLeft--;
            }
            else if (line === '' && i === lines.length - 1) {
                break; // the section's final newline
            }
            else {
                // git writes an empty context line as ' '; a bare empty line is one some tool trimmed.
                hunk.lines.push({ kind: ' ', text: '', noNewline: false });
                oldLeft--;
                newLeft--;
            }
            i++;
        }
        hunk.text = `${lines.slice(first, i).join('\n')}\n`;
        hunks.push(hunk);
    }
    return hunks;
}
/** Head-side line ranges of a pull request file's hunks: where review comments may go. */
function commentableRanges(prPatch) {
    if (!prPatch)
        return [];
    const ranges = [];
    for (const line of prPatch.split('\n')) {
        const m = HUNK_HEADER.exec(line);
        if (!m)
            continue;
        const start = Number(m[3]);
        const count = m[4] === undefined ? 1 : Number(m[4]);
        if (count > 0)
            ranges.push([start, start + count - 1]);
    }
    return ranges;
}
/** The hunk (index into ranges) holding both ends, or -1. */
function hunkHolding(ranges, start, end) {
    return ranges.findIndex(([from, to]) => start >= from && end <= to);
}
function blocksOf(hunk) {
    const blocks = [];
    const oldText = new Map();
    let old = hunk.oldLines === 0 ? hunk.oldStart + 1 : hunk.oldStart;
    let current;
    for (const line of hunk.lines) {
        if (line.kind === ' ') {
            oldText.set(old, line);
            old++;
            current = undefined;
            continue;
        }
        if (!current) {
            current = { from: old, to: old, added: [], removed: [] };
            blocks.push(current);
        }
        if (line.kind === '-') {
            oldText.set(old, line);
            current.removed.push(line);
            old++;
            current.to = old;
        }
        else {
            current.added.push(line);
        }
    }
    return { blocks, oldText };
}
/**
 * The suggestions for one hunk, or why it cannot be suggested. Insertions are anchored to the
 * line before them when that line is in the pull request's diff, else to the line after; edits
 * that then overlap (two insertions around one line) are merged into one.
 */
function suggestHunk(path, hunk, ranges, maxCommentLength) {
    const { blocks, oldText } = blocksOf(hunk);
    const edits = [];
    for (const block of blocks) {
        const eofBefore = block.removed.some(l => l.noNewline);
        const eofAfter = block.added.some(l => l.noNewline);
        if (eofBefore !== eofAfter)
            return { reason: 'newline at end of file' };
        if (block.to > block.from) {
            edits.push({ start: block.from, end: block.to - 1, blocks: [block] });
            continue;
        }
        const before = block.from - 1;
        const after = block.from;
        const canBefore = oldText.has(before) && !oldText.get(before)?.noNewline;
        const canAfter = oldText.has(after);
        const inDiff = (line) => hunkHolding(ranges, line, line) >= 0;
        const anchor = canBefore && inDiff(before)
            ? before
            : canAfter && inDiff(after)
                ? after
                : canBefore
                    ? before
                    : canAfter
                        ? after
                        : undefined;
        if (anchor === undefined)
            return { reason: 'nothing to anchor to' };
        edits.push({ start: anchor, end: anchor, blocks: [block] });
    }
    // Blocks come in order, so only neighbours can overlap.
    const merged = [];
    for (const edit of edits) {
        const last = merged[merged.length - 1];
        if (last && edit.start <= last.end) {
            last.end = Math.max(last.end, edit.end);
            last.blocks.push(...edit.blocks);
        }
        else {
            merged.push({ ...edit, blocks: [...edit.blocks] });
        }
    }
    const suggestions = [];
    for (const edit of merged) {
        if (hunkHolding(ranges, edit.start, edit.end) < 0) {
            return { reason: 'outside the pull request diff' };
        }
        const replacement = [];
        for (let line = edit.start; line <= edit.end + 1; line++) {
            for (const block of edit.blocks) {
                if (block.from === line)
                    replacement.push(...block.added.map(l => l.text));
            }
            if (line > edit.end)
                break;
            const deleted = edit.blocks.some(b => line >= b.from && line < b.to);
            if (!deleted)
                replacement.push(oldText.get(line).text);
        }
        const suggestion = { path, startLine: edit.start, line: edit.end, replacement };
        if (suggestionBody(suggestion).length > maxCommentLength) {
            return { reason: 'too long for a comment' };
        }
        suggestions.push(suggestion);
    }
    return { suggestions };
}
/** The comment body of a suggestion: a fence its content cannot close. */
function suggestionBody(suggestion) {
    const content = suggestion.replacement.join('\n');
    let longest = 0;
    for (const m of content.matchAll(/`+/g))
        longest = Math.max(longest, m[0].length);
    const fence = '`'.repeat(Math.max(3, longest + 1));
    return suggestion.replacement.length === 0
        ? `${fence}suggestion\n${fence}`
        : `${fence}suggestion\n${content}\n${fence}`;
}
function readHeader(section) {
    const end = section.text.search(/^(@@ |GIT binary patch)/m);
    const header = end < 0 ? section.text : section.text.slice(0, end);
    const reasons = [];
    if (/^new file mode /m.test(header))
        reasons.push('new file');
    if (/^deleted file mode /m.test(header))
        reasons.push('deleted file');
    if (/^rename from /m.test(header))
        reasons.push('renamed');
    if (/^copy from /m.test(header))
        reasons.push('copied');
    if (/^old mode /m.test(header))
        reasons.push('mode change');
    if (section.binary)
        reasons.push('binary');
    const index = /^index ([0-9a-f]+)\.\./m.exec(header);
    return { reasons, header, ...(index ? { oldBlob: index[1] } : {}) };
}
/**
 * Plans one review for `patch` (the agent's change, relative to the pull request's head) on a
 * pull request whose files are `files`. A file whose blob at the head is not the one the patch
 * was made on goes to the body whole: its line numbers would not fit.
 */
function planReview(patch, files, options = {}) {
    const maxSuggestions = options.maxSuggestions ?? 100;
    const maxCommentLength = options.maxCommentLength ?? 65_536;
    const byName = new Map(files.map(f => [f.filename, f]));
    const plan = { suggestions: [], body: [] };
    for (const section of (0,report_comment/* splitPatch */.JZ)(patch)) {
        const { reasons, header, oldBlob } = readHeader(section);
        const whole = (why) => {
            plan.body.push({
                path: section.path,
                reasons: why,
                diff: section.text,
                binary: section.binary
            });
        };
        // A mode change alone keeps the content hunks suggestible; anything else takes the file.
        const blocking = reasons.filter(r => r !== 'mode change');
        if (blocking.length > 0) {
            whole(reasons);
            continue;
        }
        const prFile = byName.get(section.path);
        const hunks = parseHunks(section.text.slice(header.length));
        if (!prFile) {
            if (hunks.length > 0 || reasons.length > 0)
                whole([...reasons, 'not in the pull request']);
            continue;
        }
        // The patch's line numbers are those of the file it was made on; they are the head's only
        // when that is the head's blob (the checkout may be an older head, or a merge commit).
        if (prFile.sha &&
            oldBlob &&
            !prFile.sha.startsWith(oldBlob) &&
            !oldBlob.startsWith(prFile.sha)) {
            whole([...reasons, 'changed since the checkout']);
            continue;
        }
        const ranges = commentableRanges(prFile.patch);
        const leftover = [];
        const why = new Set(reasons);
        for (const hunk of hunks) {
            const result = suggestHunk(section.path, hunk, ranges, maxCommentLength);
            if ('reason' in result) {
                leftover.push(hunk.text);
                why.add(result.reason);
            }
            else if (plan.suggestions.length + result.suggestions.length > maxSuggestions) {
                leftover.push(hunk.text);
                why.add('too many suggestions');
            }
            else {
                plan.suggestions.push(...result.suggestions);
            }
        }
        if (leftover.length > 0 || reasons.length > 0) {
            plan.body.push({
                path: section.path,
                reasons: [...why],
                diff: header + leftover.join(''),
                binary: false
            });
        }
    }
    return plan;
}
/**
 * Applies suggestions to a file's text as GitHub's "Commit suggestions" batch does: each
 * replaces the head lines it names, all against the same head (for tests and for checking a
 * plan before it is posted).
 */
function applySuggestions(text, suggestions) {
    const endsWithNewline = text.endsWith('\n');
    const lines = text === '' ? [] : (endsWithNewline ? text.slice(0, -1) : text).split('\n');
    const ordered = [...suggestions].sort((a, b) => b.startLine - a.startLine);
    for (const s of ordered)
        lines.splice(s.startLine - 1, s.line - s.startLine + 1, ...s.replacement);
    if (lines.length === 0)
        return '';
    return lines.join('\n') + (endsWithNewline ? '\n' : '');
}
/** Every file of the patch in the body, as it stands (no suggestions). */
function wholeFiles(patch) {
    return {
        suggestions: [],
        body: (0,report_comment/* splitPatch */.JZ)(patch).map(section => ({
            path: section.path,
            reasons: [],
            diff: section.text,
            binary: section.binary
        }))
    };
}

;// CONCATENATED MODULE: ./.bundle-js/github/review-api.js


/**
 * The review requests: the pull request's files (its diff, which decides where suggestions may
 * go), one COMMENT review with its suggestions, and the retirement of the previous run's review.
 */
const READ = ['pull-requests: read'];
const WRITE = ['pull-requests: write'];
async function listPullRequestFiles(client, repo, number) {
    return (0,github_client/* attempt */.CD)({ what: `list the files of pull request #${number}`, permissions: READ }, async () => {
        const files = await client.paginate(client.rest.pulls.listFiles, {
            ...repo,
            pull_number: number,
            per_page: 100
        });
        return files.map(f => ({
            filename: f.filename,
            status: f.status,
            ...(f.sha ? { sha: f.sha } : {}),
            ...(f.patch === undefined ? {} : { patch: f.patch })
        }));
    });
}
/** The review comment for a suggestion: multi-line when it spans lines, always the head side. */
function reviewComment(s) {
    return {
        path: s.path,
        body: suggestionBody(s),
        line: s.line,
        side: 'RIGHT',
        ...(s.startLine < s.line ? { start_line: s.startLine, start_side: 'RIGHT' } : {})
    };
}
async function createReview(client, repo, number, commitId, body, suggestions) {
    const response = await (0,github_client/* attempt */.CD)({ what: `post the review on pull request #${number}`, permissions: WRITE }, () => client.rest.pulls.createReview({
        ...repo,
        pull_number: number,
        commit_id: commitId,
        event: 'COMMENT',
        body,
        ...(suggestions.length > 0 ? { comments: suggestions.map(reviewComment) } : {})
    }));
    return {
        id: response.data.id,
        url: response.data.html_url,
        login: response.data.user?.login ?? ''
    };
}
/**
 * Retires this workflow and job's earlier reviews on the pull request: their suggestions are
 * deleted (a stale suggestion applied on a newer head would be wrong, and GitHub offers no other
 * way to take one back from a COMMENT review: dismissal is only for approvals and change
 * requests) and their body is replaced by a line pointing at the new review. Returns how many
 * reviews were retired.
 */
async function retireReviews(client, repo, number, options) {
    const reviews = await (0,github_client/* attempt */.CD)({ what: `list the reviews of pull request #${number}`, permissions: READ }, () => client.paginate(client.rest.pulls.listReviews, {
        ...repo,
        pull_number: number,
        per_page: 100
    }));
    let retired = 0;
    let deleted = 0;
    for (const review of reviews) {
        if (review.id === options.keep.id)
            continue;
        if (!review.body?.startsWith(options.marker))
            continue;
        // A review someone else wrote starting with our marker is not ours to edit.
        if (options.keep.login && review.user?.login !== options.keep.login)
            continue;
        const comments = await (0,github_client/* attempt */.CD)({ what: `list the comments of review ${review.id}`, permissions: READ }, () => client.paginate(client.rest.pulls.listCommentsForReview, {
            ...repo,
            pull_number: number,
            review_id: review.id,
            per_page: 100
        }));
        for (const comment of comments) {
            try {
                await client.rest.pulls.deleteReviewComment({ ...repo, comment_id: comment.id });
                deleted++;
            }
            catch (error) {
                // Already gone (deleted by hand, or by a concurrent run): nothing left to retire.
                if ((0,github_client/* isHttpError */.d)(error) && error.status === 404)
                    continue;
                throw (0,github_client/* explainRequestError */.pg)(error, {
                    what: `delete an old suggestion (comment ${comment.id})`,
                    permissions: WRITE
                });
            }
        }
        await (0,github_client/* attempt */.CD)({ what: `update the old review ${review.id}`, permissions: WRITE }, () => client.rest.pulls.updateReview({
            ...repo,
            pull_number: number,
            review_id: review.id,
            body: `${options.retiredMarker}\n_These suggestions were replaced by a newer run: ${options.keep.url}_\n`
        }));
        retired++;
    }
    return { reviews: retired, comments: deleted };
}

;// CONCATENATED MODULE: ./.bundle-js/github/review-body.js

const ICON = {
    success: '✅',
    failure: '❌',
    timeout: '⏱️',
    cancelled: '🚫'
};
const MARGIN = 512;
const FINAL_MESSAGE_MAX = 4_000;
const LEFT_OUT_RESERVE = 3_000;
const REASON = {
    'new file': 'new file',
    'deleted file': 'deleted file',
    renamed: 'renamed',
    copied: 'copied',
    binary: 'binary',
    'mode change': 'mode change',
    'not in the pull request': 'not part of this pull request',
    'outside the pull request diff': 'lines outside this pull request’s diff',
    'newline at end of file': 'changes the newline at the end of the file',
    'nothing to anchor to': 'no line to attach a suggestion to',
    'too long for a comment': 'too long for one review comment',
    'too many suggestions': 'past the number of suggestions one review carries',
    'changed since the checkout': 'the pull request’s head has another version of this file than the agent worked on'
};
function plural(n, word) {
    return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}
function stats(input) {
    const parts = [
        input.files === 0
            ? 'no changes'
            : `**${plural(input.files, 'file')} changed** (+${input.insertions} −${input.deletions})`
    ];
    if (input.numTurns !== undefined)
        parts.push(plural(input.numTurns, 'turn'));
    if (input.durationMs !== undefined)
        parts.push((0,report_comment/* formatDuration */.a3)(input.durationMs));
    if (input.costUsd !== undefined)
        parts.push(`$${input.costUsd.toFixed(4)}`);
    if (input.runUrl)
        parts.push(`[workflow run](${input.runUrl})`);
    return parts.join(' · ');
}
function wholePatch(input) {
    const file = input.patchFileName ?? 'claude.patch';
    const safe = (text) => !!text && /^[\w./-]+$/.test(text);
    const lines = [];
    if (input.artifactUrl && /^https?:\/\//.test(input.artifactUrl)) {
        lines.push(`The whole patch is in [the run’s artifact](${input.artifactUrl}).`, '');
    }
    if (safe(input.artifactName) && safe(input.runId) && safe(input.repository) && safe(file)) {
        lines.push('To apply the whole change locally:', '```sh', `gh run download ${input.runId} --repo ${input.repository} --name ${input.artifactName}`, `git apply --binary ${file}`, '```');
    }
    else if (lines.length === 0) {
        const run = input.runUrl ? `[the workflow run](${input.runUrl})` : 'the workflow run';
        lines.push(`The whole patch is in the artifacts of ${run} (apply it with <code>git apply --binary ${(0,report_comment/* escapeInline */.VV)(file)}</code>).`);
    }
    return `${lines.join('\n')}\n`;
}
function partBlock(part) {
    const why = part.reasons.map(r => REASON[r]).join(', ');
    const summary = `<code>${(0,report_comment/* escapeInline */.VV)(part.path)}</code>${why ? ` — ${why}` : ''}`;
    if (part.binary) {
        return `<details><summary>${summary}</summary>\n\nBinary change; apply the patch to see it.\n\n</details>\n`;
    }
    const content = part.diff.endsWith('\n') ? part.diff : `${part.diff}\n`;
    const fence = (0,report_comment/* fenceFor */.Lt)(content);
    return `<details><summary>${summary}</summary>\n\n${fence}diff\n${content}${fence}\n\n</details>\n`;
}
function renderReviewBody(input, limit = report_comment/* COMMENT_LIMIT */.W$) {
    const budget = limit - MARGIN;
    const icon = ICON[input.conclusion] ?? 'ℹ️';
    const what = input.suggestions > 0
        ? `${plural(input.suggestions, 'suggested change')} on ${plural(input.suggestedFiles, 'file')}`
        : 'no suggested changes';
    const head = [
        input.marker,
        `### ${icon} Claude Code (${(0,report_comment/* escapeInline */.VV)(input.conclusion || 'no verdict')}): ${what}`,
        '',
        stats(input)
    ];
    if (input.outcomeMessage && input.conclusion !== 'success') {
        head.push('', (0,report_comment/* neutralizeMarkdown */.d$)((0,report_comment/* truncateUtf16 */.Ti)(input.outcomeMessage.replace(/\s+/g, ' '), 500)));
    }
    for (const note of input.notes ?? [])
        head.push('', `> [!NOTE]\n> ${note}`);
    if (input.suggestions > 0) {
        head.push('', 'Each suggestion replaces the lines it is on with the agent’s version. Applied together ' +
            '(*Files changed* → **Add suggestion to batch** → **Commit suggestions**) they make exactly ' +
            'the agent’s change to those lines.');
    }
    let body = `${head.join('\n')}\n\n`;
    const message = (input.finalMessage ?? '').trim();
    if (message !== '') {
        const quoted = (0,report_comment/* neutralizeMarkdown */.d$)((0,report_comment/* truncateUtf16 */.Ti)(message, FINAL_MESSAGE_MAX))
            .split('\n')
            .map(line => (line === '' ? '>' : `> ${line}`))
            .join('\n');
        body += `<details><summary>Final message</summary>\n\n${quoted}\n\n</details>\n\n`;
    }
    const tail = wholePatch(input);
    if (input.body.length > 0) {
        body += `#### Not as suggestions\n\n`;
        const room = budget - body.length - tail.length - LEFT_OUT_RESERVE;
        let diffs = '';
        const leftOut = [];
        for (const part of input.body) {
            const block = part.diff.length > room - diffs.length ? '' : partBlock(part);
            if (block !== '' && diffs.length + block.length <= room)
                diffs += block;
            else
                leftOut.push(part);
        }
        body += diffs;
        if (leftOut.length > 0) {
            let note = `\n**${plural(leftOut.length, 'more file')} too long to show here**: `;
            const names = [];
            for (const part of leftOut) {
                const name = `<code>${(0,report_comment/* escapeInline */.VV)(part.path)}</code>`;
                if (note.length + names.join(', ').length + name.length > LEFT_OUT_RESERVE - 200)
                    break;
                names.push(name);
            }
            note += names.join(', ');
            if (names.length < leftOut.length)
                note += ` and ${plural(leftOut.length - names.length, 'more')}`;
            body += `${note}.\n`;
        }
        body += '\n';
    }
    body += tail;
    if (body.length <= limit - MARGIN / 2)
        return body;
    const cut = '\n\n_(cut to fit GitHub’s limit)_\n';
    return (0,report_comment/* truncateUtf16 */.Ti)(body, limit - MARGIN / 2 - cut.length) + cut;
}

;// CONCATENATED MODULE: ./.bundle-js/github/modes/review.js









/** The marker of the active review of a workflow and job, and the one a retired review gets. */
function reviewMarkers(workflow, job) {
    const sticky = (0,report_comment/* stickyMarker */.YL)(workflow, job);
    return {
        active: sticky.replace('<!-- claude-sandbox:', '<!-- claude-sandbox-review:'),
        retired: sticky.replace('<!-- claude-sandbox:', '<!-- claude-sandbox-review-retired:')
    };
}
const reviewPublisher = {
    async target(client, s) {
        const { context } = s.request;
        const number = (0,github_context/* pullRequestNumber */.Kd)(context);
        if (number === undefined)
            throw (0,github_context/* reviewNeedsPullRequest */.aT)(context.eventName);
        const pr = await pullRequestOf(client, s, true);
        const current = pr?.headSha ?? '';
        const payloadHead = context.payload.pull_request
            ?.head?.sha;
        const expected = payloadHead ?? s.checkoutHead ?? current;
        return {
            kind: 'target',
            target: {
                number,
                expected,
                current,
                base: () => Promise.resolve(expected),
                baseLabel: 'the pull request head'
            }
        };
    },
    async publish(client, s, target, staged) {
        const { context, report } = s.request;
        const { number, expected, current } = target;
        const notes = report.thread ? [(0,continuation_thread/* followUpNote */.jX)(report.thread)] : [];
        let plan;
        if (staged.files.length === 0) {
            plan = { suggestions: [], body: [] };
        }
        else if (report.conclusion !== 'success') {
            notes.push(`The agent did not succeed (${report.conclusion || 'no verdict'}), so its partial change is shown here as a diff, not offered as suggestions.`);
            plan = wholeFiles(s.patchText);
        }
        else {
            plan = planReview(s.patchText, await listPullRequestFiles(client, s.repo, number));
        }
        const markers = reviewMarkers(context.workflow, context.job);
        const render = (p, extra) => renderReviewBody({
            marker: markers.active,
            conclusion: report.conclusion,
            files: staged.files.length,
            insertions: staged.insertions,
            deletions: staged.deletions,
            runUrl: (0,github_context/* runUrl */.Vp)(context),
            runId: context.runId,
            repository: `${context.owner}/${context.repo}`,
            patchFileName: external_node_path_.basename(s.request.patchPath),
            suggestions: p.suggestions.length,
            suggestedFiles: new Set(p.suggestions.map(x => x.path)).size,
            body: p.body,
            notes: [...notes, ...extra],
            ...optional(report)
        });
        // On the head as it is now: the pull request's files (and so the lines suggestions may go
        // on) are read for it, and planReview keeps only files whose blob there is the one the
        // agent's patch was made on.
        const commitId = current || expected;
        let posted;
        try {
            posted = await createReview(client, s.repo, number, commitId, render(plan, []), plan.suggestions);
        }
        catch (error) {
            // GitHub judged a line differently than the pull request's files said: keep the result,
            // as a review whose body holds the whole change.
            if (!((0,github_client/* isHttpError */.d)(error) && error.status === 422 && plan.suggestions.length > 0))
                throw error;
            const warning = `GitHub refused the suggestions (${error.message}); the change is in the review body instead`;
            s.log.warning(warning);
            s.warnings.push(warning);
            plan = wholeFiles(s.patchText);
            posted = await createReview(client, s.repo, number, commitId, render(plan, [
                'GitHub did not accept these lines as suggestions; the change is shown as a diff.'
            ]), []);
        }
        const retired = await retireReviews(client, s.repo, number, {
            marker: markers.active,
            retiredMarker: markers.retired,
            keep: posted
        });
        if (retired.reviews > 0) {
            s.log.info(`Retired ${retired.reviews} earlier review(s) of this workflow and job (${retired.comments} old suggestion(s) deleted)`);
        }
        s.log.info(`Posted the review ${posted.url} with ${plan.suggestions.length} suggestion(s)`);
        return {
            mode: 'review',
            // The review is the pull request's comment of this run: `comment-url` points at it too.
            commentUrl: posted.url,
            reviewUrl: posted.url,
            suggestions: plan.suggestions.length,
            message: `Posted a review on #${number} with ${plan.suggestions.length} suggested change(s)${plan.body.length > 0 ? ` and ${plan.body.length} file diff(s) in its body` : ''}`,
            warnings: s.warnings
        };
    }
};
function optional(report) {
    const out = {};
    for (const [key, value] of Object.entries({
        outcomeMessage: report.outcomeMessage,
        finalMessage: report.finalMessage,
        numTurns: report.numTurns,
        durationMs: report.durationMs,
        costUsd: report.costUsd,
        artifactName: report.artifactName,
        artifactUrl: report.artifactUrl
    })) {
        if (value !== undefined)
            out[key] = value;
    }
    return out;
}

// EXTERNAL MODULE: ./.bundle-js/secrets/verdict.js + 1 modules
var verdict = __webpack_require__(50059);
;// CONCATENATED MODULE: ./.bundle-js/github/secret-screen.js

/**
 * The secret scan before publishing: a commit or a pull request whose change holds a secret is
 * refused (nothing is written to GitHub); a comment or review is published with the secrets
 * redacted from the patch it shows and from the agent's messages. Runs after the path policy,
 * before the mode reads anything from GitHub.
 */
function screenSecrets(s) {
    const settings = s.request.secrets;
    if (!settings?.enabled)
        return;
    const { report } = s.request;
    const result = (0,verdict/* scanForPublishing */.gW)(s.patchText, [report.finalMessage, report.outcomeMessage], settings);
    if (result.blocking.length > 0) {
        if (s.request.mode === 'commit' || s.request.mode === 'pull-request') {
            throw (0,verdict/* secretRefusal */.XS)(result.blocking);
        }
        const warning = `The change holds ${result.blocking.length} possible secret(s), redacted from what is published: ${(0,verdict/* describeFindings */.kA)(result.blocking)}`;
        s.log.warning(warning);
        s.warnings.push(warning);
    }
    s.patchText = result.redactedPatch;
    if (report.finalMessage)
        report.finalMessage = result.redact(report.finalMessage);
    if (report.outcomeMessage)
        report.outcomeMessage = result.redact(report.outcomeMessage);
    if (result.inMessages > 0) {
        s.log.warning(`The agent's message held ${result.inMessages} possible secret(s); they are redacted`);
    }
}

// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: ./.bundle-js/git/patch.js
var patch = __webpack_require__(82235);
// EXTERNAL MODULE: ./.bundle-js/git/path-policy.js
var path_policy = __webpack_require__(51485);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(77598);
// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(48161);
// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __webpack_require__(38522);
;// CONCATENATED MODULE: ./.bundle-js/github/remote-stage.js











const ZERO = /^0+$/;
/** The pre-change side of every file a patch touches, read from its headers. */
function patchPreimages(patch) {
    const out = new Map();
    for (const section of (0,report_comment/* splitPatch */.JZ)(patch)) {
        const headerEnd = section.text.search(/^(@@ |GIT binary patch)/m);
        const header = (headerEnd < 0 ? section.text : section.text.slice(0, headerEnd)).split('\n');
        let oldPath;
        let oldSha;
        let oldMode;
        let isNew = false;
        for (const line of header) {
            if (line.startsWith('new file mode '))
                isNew = true;
            else if (line.startsWith('old mode '))
                oldMode = line.slice(9).trim();
            else if (line.startsWith('deleted file mode '))
                oldMode = line.slice(18).trim();
            else if (line.startsWith('rename from '))
                oldPath = (0,report_comment/* unquote */._n)(line.slice(12));
            else if (line.startsWith('copy from '))
                oldPath = (0,report_comment/* unquote */._n)(line.slice(10));
            else if (line.startsWith('--- ') && oldPath === undefined) {
                const p = (0,report_comment/* unquote */._n)(line.slice(4));
                if (p !== '/dev/null')
                    oldPath = p.replace(/^a\//, '');
            }
            else if (line.startsWith('index ')) {
                const m = /^index ([0-9a-f]+)\.\.[0-9a-f]+(?: (\d{6}))?$/.exec(line);
                if (m && !ZERO.test(m[1]))
                    oldSha = m[1];
                if (m?.[2])
                    oldMode ??= m[2];
            }
        }
        if (isNew)
            continue;
        const p = oldPath ?? section.path;
        if (p === '')
            continue;
        out.set(p, {
            path: p,
            ...(oldSha ? { sha: oldSha } : {}),
            ...(oldMode ? { mode: oldMode } : {})
        });
    }
    return [...out.values()];
}
function blobId(content) {
    return (0,external_node_crypto_.createHash)('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}
/** Writes a loose object, as `git hash-object -w` would, without a process per blob. */
async function writeLooseBlob(gitDir, sha, content) {
    const dir = external_node_path_.join(gitDir, 'objects', sha.slice(0, 2));
    await (0,promises_.mkdir)(dir, { recursive: true });
    await (0,promises_.writeFile)(external_node_path_.join(dir, sha.slice(2)), (0,external_node_zlib_.deflateSync)(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content])));
}
async function mapLimit(items, limit, fn) {
    const results = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await fn(items[index]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}
async function stageAgainstGitHub(options) {
    const { client, repo } = options;
    const preimages = patchPreimages(options.patchText);
    const tree = preimages.length > 0
        ? await listTree(client, repo, await commitTree(client, repo, options.baseCommit))
        : new Map();
    if (!tree) {
        throw new errors/* ConfigurationError */.j(`The repository is too large to read ${options.baseLabel} through the API, and there is no checkout to apply the patch to`, 'Check out the repository at the commit the agent worked on before publishing (working-directory)');
    }
    const missing = [];
    const differing = [];
    for (const pre of preimages) {
        const entry = tree.get(pre.path);
        if (!entry)
            missing.push(pre.path);
        else if (pre.sha && entry.sha !== pre.sha)
            differing.push(pre.path);
        pre.sha ??= entry?.sha;
        pre.mode ??= entry?.mode;
    }
    if (missing.length > 0 || differing.length > 0) {
        const list = [...missing, ...differing]
            .slice(0, 20)
            .map(p => JSON.stringify(p))
            .join(', ');
        throw new errors/* ConfigurationError */.j(`The patch was made against other versions of ${missing.length + differing.length} file(s) than ${options.baseLabel} has: ${list}; nothing was published`, 'Rerun the workflow on the current head');
    }
    const directory = await (0,promises_.mkdtemp)(external_node_path_.join((0,external_node_os_.tmpdir)(), 'claude-sandbox-publish-'));
    const dispose = () => (0,promises_.rm)(directory, { recursive: true, force: true });
    try {
        const git = (0,git_git/* createGit */.lD)(directory);
        await git.run(['init', '-q']);
        const gitDir = external_node_path_.join(directory, '.git');
        // A submodule entry names a commit of another repository: nothing to fetch for it.
        const shas = [...new Set(preimages.filter(p => p.mode !== '160000').map(p => p.sha))];
        await mapLimit(shas, 8, async (sha) => {
            const blob = await (0,github_client/* attempt */.CD)({ what: `read blob ${sha.slice(0, 12)}`, permissions: ['contents: read'] }, () => client.rest.git.getBlob({ ...repo, file_sha: sha }));
            const content = Buffer.from(blob.data.content, blob.data.encoding === 'base64' ? 'base64' : 'utf8');
            if (blobId(content) !== sha)
                throw new Error(`GitHub returned other content for blob ${sha}`);
            await writeLooseBlob(gitDir, sha, content);
        });
        const index = { GIT_INDEX_FILE: external_node_path_.join(directory, 'base-index') };
        const info = preimages.map(p => `${p.mode} ${p.sha}\t${p.path}\0`).join('');
        await git.run(['update-index', '-z', '--index-info'], {
            env: index,
            input: Buffer.from(info, 'utf8')
        });
        const baseTree = await git.text(['write-tree'], { env: index });
        const identity = {
            GIT_AUTHOR_NAME: 'base',
            GIT_AUTHOR_EMAIL: 'base@invalid',
            GIT_COMMITTER_NAME: 'base',
            GIT_COMMITTER_EMAIL: 'base@invalid'
        };
        const commit = await git.text(['commit-tree', baseTree, '-m', 'files the patch touches'], {
            env: identity
        });
        await git.run(['update-ref', 'HEAD', commit]);
        const staged = await (0,patch/* stagePatch */.$n)(directory, options.patchPath);
        return { staged, repository: directory, dispose };
    }
    catch (error) {
        await dispose();
        throw error;
    }
}

;// CONCATENATED MODULE: ./.bundle-js/github/publish-stage.js








const silent = { info: () => undefined, warning: () => undefined };
/** Reads the patch and stages it in the checkout when there is one. Reads nothing from GitHub. */
async function stage(request) {
    const log = request.log ?? silent;
    const maxFileBytes = request.maxFileBytes ?? request.settings.maxFileBytes;
    const policy = {
        protectedPaths: request.settings.protectedPaths,
        ...(maxFileBytes === undefined ? {} : { maxFileBytes })
    };
    const patchText = await readPatch(request);
    // First the paths the patch names, before git reads it: git refuses some of them (inside
    // .git) with a bare "invalid path", and the user should get the whole list either way.
    const named = (0,report_comment/* patchFilePaths */.Zi)(patchText).map((filePath) => ({
        path: filePath,
        status: 'modified',
        insertions: 0,
        deletions: 0,
        binary: false
    }));
    const early = (0,path_policy/* checkPathPolicy */.IA)(named, policy);
    const checkoutHead = await headOf(request.workspace);
    let staged;
    if (patchText === '') {
        staged = emptyStage();
    }
    else if (checkoutHead !== undefined) {
        try {
            staged = await (0,patch/* stagePatch */.$n)(request.workspace, external_node_path_.resolve(request.workspace, request.patchPath));
        }
        catch (error) {
            if (!(error instanceof git_git/* GitError */.XS))
                throw error;
            // git refuses some offending patches outright; the paths already found say why.
            if (early.length > 0)
                staged = emptyStage();
            // Otherwise the checkout is not the commit the patch was made on: stage against GitHub.
            else
                log.info(`The patch does not apply to the checkout (${error.message}); using GitHub's copy of the files instead`);
        }
    }
    return {
        request,
        log,
        repo: { owner: request.context.owner, repo: request.context.repo },
        patchText,
        stagingRepository: request.workspace,
        early,
        policy,
        warnings: [],
        cleanup: [],
        ...(staged ? { staged } : {}),
        ...(checkoutHead ? { checkoutHead } : {})
    };
}
/**
 * Applies the path policy to the names found first and the staged files (when staged). Throws
 * when a publishing mode would publish a refused path; in patch mode returns a warning result.
 */
function enforcePolicy(s) {
    if (s.request.mode !== 'patch' && s.early.length === 0 && !s.staged)
        return undefined;
    const seen = new Set(s.early.map(v => `${v.path}\0${v.reason}`));
    const violations = [
        ...s.early,
        ...(0,path_policy/* checkPathPolicy */.IA)(s.staged?.files ?? [], s.policy).filter(v => !seen.has(`${v.path}\0${v.reason}`))
    ];
    if (violations.length === 0)
        return undefined;
    const list = (0,path_policy/* formatViolations */.wQ)(violations);
    const count = new Set(violations.map(v => v.path)).size;
    if (s.request.mode === 'patch') {
        const warning = `The patch touches ${count} path(s) the path policy would refuse to publish: ${list}`;
        s.log.warning(warning);
        return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [warning] };
    }
    throw new errors/* ConfigurationError */.j(`Refusing to publish: the change touches ${count} path(s) the path policy forbids: ${list}. Nothing was published`, 'Review the patch (job summary / artifact). If these paths are meant to change, adjust `protected-paths`; changes inside .git, symlinks leaving the repository and oversized files are never published');
}
/**
 * The staged change. Without a checkout, staged against `base` on GitHub (reads only) and put
 * through the path policy again: the files found there may be what the policy refuses.
 */
async function stageOnto(client, s, base, baseLabel) {
    if (s.staged)
        return s.staged;
    s.log.info('No checkout in the working directory: reading the files the patch touches from GitHub');
    const remote = await stageAgainstGitHub({
        client,
        repo: s.repo,
        patchText: s.patchText,
        patchPath: external_node_path_.resolve(s.request.workspace, s.request.patchPath),
        baseCommit: await base(),
        baseLabel
    });
    s.cleanup.push(remote.dispose);
    s.stagingRepository = remote.repository;
    s.staged = remote.staged;
    enforcePolicy(s);
    return remote.staged;
}
/** The checkout's HEAD commit, or undefined when the directory holds no repository. */
async function headOf(workspace) {
    const result = await (0,git_git/* createGit */.lD)(workspace)
        .tryRun(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])
        .catch(() => undefined);
    return result?.exitCode === 0 ? result.stdout.toString('utf8').trim() : undefined;
}
/**
 * The largest patch publishing reads. Every mode holds it as one string and parses it more than
 * once, so a larger one would end in an out-of-memory crash (or V8's string limit) instead of
 * in a line that says what happened. 256 MiB is far beyond what a reviewer reads or GitHub takes.
 */
const MAX_PUBLISH_PATCH_BYTES = 256 * 1024 * 1024;
/** The patch as text ('' for an empty patch); its absence is the user's mistake. */
async function readPatch(request) {
    const patchPath = external_node_path_.resolve(request.workspace, request.patchPath);
    const size = await (0,promises_.stat)(patchPath).then(found => (found.isFile() ? found.size : undefined), () => undefined);
    if (size !== undefined && size > MAX_PUBLISH_PATCH_BYTES) {
        // Checked before reading, so nothing is loaded; the patch stays where it is.
        throw new errors/* ConfigurationError */.j(`The patch ${patchPath} is ${mebibytes(size)}, more than the ${mebibytes(MAX_PUBLISH_PATCH_BYTES)} publishing reads; nothing was published`, 'Apply it by hand with `git apply --binary` (it is kept, and in the artifact), or narrow the task so the agent changes less');
    }
    try {
        return await (0,promises_.readFile)(patchPath, 'utf8');
    }
    catch {
        throw new errors/* ConfigurationError */.j(`The patch file ${patchPath} does not exist or cannot be read`, 'Pass the `patch-path` output of the run (or the file downloaded from its artifact) as `patch`');
    }
}
function mebibytes(bytes) {
    return `${Math.round(bytes / (1024 * 1024))} MiB`;
}
function emptyStage() {
    return {
        files: [],
        insertions: 0,
        deletions: 0,
        tree: '',
        readBlob: () => Promise.reject(new Error('no changes'))
    };
}

;// CONCATENATED MODULE: ./.bundle-js/github/publish.js









/**
 * Publishes a patch the agent produced, in three steps: stage it, apply the path policy, and
 * hand it to the mode's publisher (a sticky comment, a commit on the pull request's branch, a
 * pull request, or a review of suggested changes; patch publishes nothing). A policy violation
 * publishes nothing: with a checkout it is found before any request to GitHub; without one (the
 * reusable workflow's publish job) the files the patch touches are read from GitHub once the
 * mode has said what it publishes onto, and the policy is applied again before anything is
 * written.
 */
const PUBLISHERS = {
    comment: commentPublisher,
    commit: commitPublisher,
    'pull-request': pullRequestPublisher,
    review: reviewPublisher
};
async function publish(request) {
    const staging = await stage(request);
    const refused = enforcePolicy(staging);
    if (refused)
        return refused;
    screenSecrets(staging);
    if (request.mode === 'patch') {
        return { mode: 'patch', message: 'Wrote the patch only (publish: patch)', warnings: [] };
    }
    const client = clientFor(request);
    try {
        return await publishWith(client, staging, PUBLISHERS[request.mode], []);
    }
    finally {
        for (const dispose of staging.cleanup)
            await dispose();
    }
}
async function publishWith(client, staging, publisher, notes) {
    const outcome = await publisher.target(client, staging);
    if (outcome.kind === 'done')
        return outcome.result;
    if (outcome.kind === 'comment-instead') {
        staging.log.warning(outcome.note);
        staging.warnings.push(outcome.note);
        return publishWith(client, staging, PUBLISHERS.comment, [...notes, outcome.note]);
    }
    const target = outcome.target;
    if ('notes' in target && Array.isArray(target.notes))
        target.notes.push(...notes);
    const staged = await stageOnto(client, staging, () => target.base(), target.baseLabel);
    return publisher.publish(client, staging, target, staged);
}
function clientFor(request) {
    const token = request.settings.githubToken;
    if (!token) {
        throw new errors/* ConfigurationError */.j(`\`github-token\` is empty, and publish: ${request.mode} needs it`, 'Pass `github-token: ${{ github.token }}` (the default) or a token with the permissions listed in the README');
    }
    return (0,github_client.createGitHubClient)({
        ...request.client,
        token,
        baseUrl: request.context.apiUrl,
        log: request.log ?? { info: () => undefined, warning: () => undefined }
    });
}


/***/ })

};
