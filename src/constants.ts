/** Names shared by the main and post steps; one place so they cannot drift apart. */

/** The CLI version baked into the image unless `claude-code-version` says otherwise. */
export const DEFAULT_CLAUDE_CODE_VERSION = '2.1.330'

/** Label put on every container the action starts, so the post step can find leftovers. */
export const RUN_LABEL = 'org.claude-sandbox-action.run'

/** Where the run-private socket directory is mounted inside the container. */
export const SANDBOX_MOUNT = '/run/sandbox'
export const GATEWAY_SOCKET = 'gateway.sock'
export const PROXY_SOCKET = 'proxy.sock'
export const GATEWAY_PORT = 8080
export const PROXY_PORT = 8081

/** The image's unprivileged user, used when the runner itself is root. */
export const IMAGE_USER = { uid: 1000, gid: 1000, home: '/home/agent' }

/** What the CLI inside sees instead of a key; the gateway swaps in the real one. */
export const PLACEHOLDER_API_KEY = 'sk-ant-sandbox-placeholder-not-a-key'
export const PLACEHOLDER_OAUTH_TOKEN = 'sk-ant-oat-sandbox-placeholder-not-a-token'

export const State = {
  isPost: 'isPost',
  runId: 'runId',
  runDir: 'runDir',
  workspaceOwner: 'workspaceOwner',
  workspace: 'workspace'
} as const

export const Outputs = {
  conclusion: 'conclusion',
  hasChanges: 'has-changes',
  changedFiles: 'changed-files',
  insertions: 'insertions',
  deletions: 'deletions',
  patchPath: 'patch-path',
  executionFile: 'execution-file',
  finalMessage: 'final-message',
  sessionId: 'session-id',
  numTurns: 'num-turns',
  durationMs: 'duration-ms',
  costUsd: 'cost-usd',
  inputTokens: 'input-tokens',
  outputTokens: 'output-tokens',
  imageId: 'image-id',
  cacheHit: 'cache-hit',
  artifactId: 'artifact-id',
  artifactUrl: 'artifact-url',
  artifactName: 'artifact-name',
  commentUrl: 'comment-url',
  commitSha: 'commit-sha',
  pullRequestUrl: 'pull-request-url',
  pullRequestNumber: 'pull-request-number',
  resumedFrom: 'resumed-from'
} as const
