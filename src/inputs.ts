import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import shellQuote from 'shell-quote'
import { ConfigurationError } from './errors.js'
import type {
  ArtifactSettings,
  NetworkMode,
  PublishMode,
  PublishSettings,
  Settings
} from './settings.js'
import { PREBUILT_IMAGE_MODES } from './settings.js'
import { DEFAULT_MAX_FILE_BYTES, resolveProtectedPaths } from './git/path-policy.js'
import { outsideSupportedRange, supportedRange } from './agent/cli-versions.js'
import { DEFAULT_CLAUDE_CODE_VERSION } from './constants.js'
import { parseAllowedDomains } from './egress/allow-list.js'
import { parseModelPrices } from './api-door/pricing.js'
import { CREDENTIAL_ENV, PROVIDER_RESERVED_ENV } from './api-door/providers/cli-env.js'
import { readProviderSettings } from './api-door/providers/provider-inputs.js'
import { parseDiskFloor } from './sandbox/disk-guard.js'
import { parseContinue } from './continuation/scope.js'

/** Reads one input by its action.yml name; '' when unset. core.getInput in the action. */
export type InputReader = (name: string) => string

const NETWORK_MODES: readonly NetworkMode[] = ['restricted', 'open']
const PUBLISH_MODES: readonly PublishMode[] = [
  'auto',
  'comment',
  'commit',
  'pull-request',
  'review',
  'patch'
]

/**
 * Variables the `env` input may not set: they would hand the agent a credential or route its
 * traffic around the gateway and the proxy.
 */
const RESERVED_ENV = new Set([
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'ANTHROPIC_BASE_URL',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'HOME',
  'SANDBOX_DIR',
  // Also given to the docker client that starts the container (see clientEnvForRun).
  'PATH',
  'DOCKER_HOST',
  'DOCKER_CONTEXT',
  'DOCKER_CONFIG',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS_VERIFY',
  ...PROVIDER_RESERVED_ENV
])

/** The folder that holds action.yml (dist/ sits beside docker/ in the published action). */
export function actionRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  // Bundled: <root>/dist/index.js or <root>/dist/cli/index.js; from sources: <root>/src/inputs.ts.
  for (const candidate of [path.join(here, '..'), path.join(here, '..', '..')]) {
    if (existsSync(path.join(candidate, 'docker', 'Dockerfile.agent'))) return candidate
  }
  return path.join(here, '..')
}

/** Splits a list input on newlines and commas, trimming and dropping empty entries. */
export function splitList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map(item => item.trim())
    .filter(item => item.length > 0)
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/**
 * A size in docker's syntax (`50m`, `1g`, `512k`, or bytes), binary multiples; `mb`, `mib` and
 * the like are read the same way, since that is what people mean by them.
 */
export function parseSize(value: string, inputName: string, fallback: number): number {
  const text = value.trim().toLowerCase()
  if (text === '') return fallback
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)(?:i?b)?$/.exec(text)
  const bytes = match ? Math.floor(Number(match[1]) * (SIZE_UNITS[match[2] ?? ''] ?? 1)) : NaN
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ConfigurationError(
      `Input \`${inputName}\` must be a size such as 50m, 1g or 512k, got "${truncate(value.trim(), 40)}"`
    )
  }
  return bytes
}

/** Splits on whitespace, newlines and commas (package lists). */
export function splitWords(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map(item => item.trim())
    .filter(item => item.length > 0)
}

/** Parses newline-separated KEY=VALUE lines (build-args); every malformed line is an error. */
export function parseKeyValueLines(value: string, inputName: string): Record<string, string> {
  const result: Record<string, string> = {}
  value.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    const key = eq > 0 ? line.slice(0, eq).trim() : ''
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new ConfigurationError(
        `Input \`${inputName}\` line ${index + 1} is not KEY=VALUE: "${truncate(line, 60)}"`,
        'Write one KEY=VALUE per line, with a key of letters, digits and underscores'
      )
    }
    result[key] = line.slice(eq + 1)
  })
  return result
}

/** Parses the `env` input: KEY=VALUE, or bare KEY copied from the runner's environment. */
export function parseEnvInput(value: string, runnerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const result: Record<string, string> = {}
  value.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    const key = eq === -1 ? line : line.slice(0, eq).trim()
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new ConfigurationError(
        `Input \`env\` line ${index + 1} is not KEY=VALUE or KEY: "${truncate(line, 60)}"`,
        'Write one KEY=VALUE (or a bare KEY to copy it from the runner) per line'
      )
    }
    if (RESERVED_ENV.has(key)) {
      throw new ConfigurationError(
        `Input \`env\` may not set ${key}: the sandbox sets it to keep credentials out and traffic on the gateway`,
        'Remove it; use anthropic-base-url for the API endpoint and allowed-domains for egress'
      )
    }
    if (CREDENTIAL_ENV.test(key)) {
      throw new ConfigurationError(
        `Input \`env\` may not give the agent ${key}: cloud credentials and the job's OIDC token stay on the host`,
        'Remove it; the model provider is reached through the gateway (`provider`), which holds the credentials'
      )
    }
    if (eq === -1) {
      const copied = runnerEnv[key]
      if (copied !== undefined) result[key] = copied
    } else {
      result[key] = line.slice(eq + 1)
    }
  })
  return result
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text
}

function parseBoolean(value: string, inputName: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase()
  if (v === '') return fallback
  if (['true', 'yes', '1'].includes(v)) return true
  if (['false', 'no', '0'].includes(v)) return false
  throw new ConfigurationError(`Input \`${inputName}\` must be true or false, got "${value}"`)
}

function parsePositiveInteger(value: string, inputName: string): number | undefined {
  const v = value.trim()
  if (v === '') return undefined
  if (!/^\d+$/.test(v) || Number(v) < 1) {
    throw new ConfigurationError(
      `Input \`${inputName}\` must be a positive whole number, got "${value}"`
    )
  }
  return Number(v)
}

function parsePositiveNumber(value: string, inputName: string, fallback: number): number {
  const v = value.trim()
  if (v === '') return fallback
  const n = Number(v)
  if (!/^\d*\.?\d+$/.test(v) || !Number.isFinite(n) || n <= 0) {
    throw new ConfigurationError(`Input \`${inputName}\` must be a positive number, got "${value}"`)
  }
  return n
}

/** `max-budget-usd`: USD, above zero; empty means no cap. */
function parseBudget(value: string): number | undefined {
  const text = value.trim().replace(/^\$/, '')
  if (text === '') return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    throw new ConfigurationError(
      `Input \`max-budget-usd\` must be an amount in USD above 0, such as 5 or 0.50, got "${value.trim()}"`,
      'Leave it empty for no cap'
    )
  }
  return n
}

function oneOf<T extends string>(
  value: string,
  allowed: readonly T[],
  inputName: string,
  fallback: T
): T {
  const v = value.trim()
  if (v === '') return fallback
  if ((allowed as readonly string[]).includes(v)) return v as T
  throw new ConfigurationError(
    `Input \`${inputName}\` must be one of ${allowed.join(', ')}, got "${value}"`
  )
}

/** Splits `claude-args` like a shell would split words, refusing shell operators. */
export function splitClaudeArgs(value: string): string[] {
  const words: string[] = []
  for (const entry of shellQuote.parse(value, name => `$${name}`)) {
    if (typeof entry === 'string') {
      words.push(entry)
    } else if ('comment' in entry) {
      break
    } else if ('pattern' in entry) {
      words.push(entry.pattern)
    } else {
      throw new ConfigurationError(
        `Input \`claude-args\` contains the shell operator "${entry.op}"; it is split into words, never run by a shell`,
        'Quote it if it is meant literally'
      )
    }
  }
  return words
}

/** The certificate blocks of a PEM text, whatever else it holds (a private key, say). */
export function certificateBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
}

/** Whether `file` is `dir` or below it (lexically). */
export function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file)
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))
}

function resolveFrom(base: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(base, p)
}

function readPromptInputs(read: InputReader): { prompt: string; promptFile?: string } {
  const prompt = read('prompt')
  const promptFile = read('prompt-file').trim()
  if (prompt.trim() !== '' && promptFile !== '') {
    throw new ConfigurationError('Both `prompt` and `prompt-file` are set', 'Set only one of them')
  }
  // An empty prompt is allowed here: a comment trigger carries its own request. requirePrompt
  // refuses it once the event is known to bring none. prompt-file is read by prompt-file.ts
  // once the event is known (on pull requests it comes from the base commit).
  return { prompt, promptFile: promptFile || undefined }
}

function readCaCertificates(read: InputReader, workspace: string): string | undefined {
  const value = read('ca-certificates').trim()
  if (value === '') return undefined
  const file = resolveFrom(workspace, value)
  // Through a link (the file's or a parent directory's) a checkout could name any file.
  if (
    isInside(workspace, file) &&
    existsSync(file) &&
    realpathSync(file) !== path.join(realpathSync(workspace), path.relative(workspace, file))
  ) {
    throw new ConfigurationError(
      `Input \`ca-certificates\` names ${file}, a symbolic link inside the repository`,
      'Give the bundle itself: a link in the checkout could point at any file of the runner'
    )
  }
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new ConfigurationError(
      `Input \`ca-certificates\` names ${file}, which does not exist`,
      'Give the path of a PEM bundle (-----BEGIN CERTIFICATE----- blocks)'
    )
  }
  const text = readFileSync(file, 'utf8')
  if (certificateBlocks(text).length === 0) {
    throw new ConfigurationError(
      `Input \`ca-certificates\` names ${file}, which is not a PEM file (no -----BEGIN CERTIFICATE----- block)`,
      'Give a PEM bundle; convert a DER file with `openssl x509 -inform der -in cert.cer -out cert.pem`'
    )
  }
  return file
}

/**
 * `base-image`: an image reference or `devcontainer`. It cannot go with `image` (nothing is built
 * then) nor with a different BASE_IMAGE build argument (two answers to one question).
 */
function readBaseImage(
  read: InputReader,
  image: string | undefined,
  buildArgs: Record<string, string>
): string | undefined {
  const baseImage = read('base-image').trim() || undefined
  if (!baseImage) return undefined
  if (image) {
    throw new ConfigurationError(
      'Inputs `image` and `base-image` were both given: a prebuilt `image` is used as it is, nothing is built on a base',
      'Keep one of them'
    )
  }
  if (baseImage !== 'devcontainer' && !/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/.test(baseImage)) {
    throw new ConfigurationError(
      `Input \`base-image\` must be an image reference such as node:22-bookworm, or \`devcontainer\`, got "${baseImage}"`
    )
  }
  if (buildArgs.BASE_IMAGE !== undefined && buildArgs.BASE_IMAGE !== baseImage) {
    throw new ConfigurationError(
      `Input \`base-image\` (${baseImage}) and build-args BASE_IMAGE (${buildArgs.BASE_IMAGE}) disagree`,
      'Give the base image once: `base-image` (or BASE_IMAGE in `build-args`, which means the same)'
    )
  }
  return baseImage
}

/** Reads and validates every input. Throws ConfigurationError on the first mistake. */
export function getSettings(read: InputReader, env: NodeJS.ProcessEnv = process.env): Settings {
  const workspaceInput = read('working-directory').trim()
  const workspace = path.resolve(workspaceInput || env.GITHUB_WORKSPACE || process.cwd())
  if (!existsSync(workspace) || !statSync(workspace).isDirectory()) {
    throw new ConfigurationError(
      `The repository directory ${workspace} does not exist`,
      'Check out the repository first (actions/checkout), or fix `working-directory`'
    )
  }

  const claudeCodeVersion = read('claude-code-version').trim() || DEFAULT_CLAUDE_CODE_VERSION
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(claudeCodeVersion)) {
    throw new ConfigurationError(
      `Input \`claude-code-version\` must be an exact version such as ${DEFAULT_CLAUDE_CODE_VERSION}, got "${claudeCodeVersion}"`,
      'Ranges and tags are refused so the cached image matches what runs'
    )
  }
  const outsideRange = outsideSupportedRange(claudeCodeVersion)
  if (outsideRange) {
    throw new ConfigurationError(
      outsideRange,
      `Set \`claude-code-version\` to a version from ${supportedRange()} (or leave it out for ${DEFAULT_CLAUDE_CODE_VERSION})`
    )
  }

  const timeoutMinutes = parsePositiveNumber(read('timeout-minutes'), 'timeout-minutes', 30)
  const memory = read('memory').trim() || '4g'
  if (!/^\d+(\.\d+)?[bkmgBKMG]?$/.test(memory)) {
    throw new ConfigurationError(
      `Input \`memory\` must be a docker size such as 4g or 512m, got "${memory}"`
    )
  }
  const cpus = String(parsePositiveNumber(read('cpus'), 'cpus', 2))
  const minFreeDisk = parseDiskFloor(read('min-free-disk'))
  if (!minFreeDisk) {
    throw new ConfigurationError(
      `Input \`min-free-disk\` must be a size such as 1g or 512m, a share of the disk such as 5%, or 0 to turn the disk guard off, got "${read('min-free-disk').trim()}"`
    )
  }

  const dockerfileInput = read('dockerfile').trim()
  const bundledDockerfile = dockerfileInput === ''
  const dockerfile = bundledDockerfile
    ? path.join(actionRoot(), 'docker', 'Dockerfile.agent')
    : resolveFrom(workspace, dockerfileInput)
  const image = read('image').trim() || undefined
  if (!image && (!existsSync(dockerfile) || !statSync(dockerfile).isFile())) {
    throw new ConfigurationError(
      `Input \`dockerfile\` names ${dockerfile}, which does not exist`,
      'Give a path relative to the repository, or leave it empty to use the bundled image'
    )
  }

  const buildArgs = parseKeyValueLines(read('build-args'), 'build-args')
  const baseImage = readBaseImage(read, image, buildArgs)

  const apiKey = read('anthropic-api-key').trim() || undefined
  const oauthToken = read('claude-code-oauth-token').trim() || undefined
  const { defaultBaseUrl, ...providerSettings } = readProviderSettings(read, env)
  const baseUrl = read('anthropic-base-url').trim() || defaultBaseUrl
  if (!/^https?:\/\/[^\s/]+/.test(baseUrl)) {
    throw new ConfigurationError(
      `Input \`anthropic-base-url\` must be an http(s) URL, got "${baseUrl}"`
    )
  }

  return {
    task: {
      ...readPromptInputs(read),
      model: read('model').trim() || undefined,
      maxTurns: parsePositiveInteger(read('max-turns'), 'max-turns'),
      allowedTools: splitList(read('allowed-tools')),
      disallowedTools: splitList(read('disallowed-tools')),
      appendSystemPrompt: read('append-system-prompt').trim() || undefined,
      claudeArgs: splitClaudeArgs(read('claude-args')),
      claudeCodeVersion,
      timeoutMs: Math.round(timeoutMinutes * 60_000)
    },
    credentials: { apiKey, oauthToken, baseUrl, ...providerSettings },
    sandbox: {
      network: oneOf(read('network'), NETWORK_MODES, 'network', 'restricted'),
      allowedDomains: validAllowedDomains(read('allowed-domains')),
      env: parseEnvInput(read('env'), env),
      memory,
      cpus,
      pidsLimit: parsePositiveInteger(read('pids-limit'), 'pids-limit') ?? 1024,
      workspace,
      maxBudgetUsd: parseBudget(read('max-budget-usd')),
      modelPrices: parseModelPrices(read('model-prices')),
      minFreeDisk,
      runnerToolCache: parseBoolean(read('runner-tool-cache'), 'runner-tool-cache', true)
    },
    image: {
      image,
      baseImage,
      dockerfile,
      bundledDockerfile,
      buildArgs,
      extraPackages: splitWords(read('extra-packages')),
      caCertificates: readCaCertificates(read, workspace),
      cache: parseBoolean(read('cache'), 'cache', true),
      prebuiltImage: oneOf(read('prebuilt-image'), PREBUILT_IMAGE_MODES, 'prebuilt-image', 'auto')
    },
    publish: getPublishSettings(read),
    artifact: getArtifactSettings(read),
    trigger: {
      triggerPhrase: read('trigger-phrase').trim() || '@claude',
      labelTrigger: read('label-trigger').trim() || undefined
    },
    conversation: parseContinue(read('continue'))
  }
}

/** `artifact`, `artifact-name`, `artifact-retention-days`. */
export function getArtifactSettings(read: InputReader): ArtifactSettings {
  const name = read('artifact-name').trim() || undefined
  if (name !== undefined && /[":<>|*?\\/\r\n]/.test(name)) {
    throw new ConfigurationError(
      `Input \`artifact-name\` contains a character the artifact service refuses ("${truncate(name, 80)}")`,
      'Leave out " : < > | * ? \\ / and line breaks, or leave `artifact-name` empty for claude-sandbox-<job>-<attempt>'
    )
  }
  const retentionDays = parsePositiveInteger(
    read('artifact-retention-days'),
    'artifact-retention-days'
  )
  if (retentionDays !== undefined && retentionDays > 90) {
    throw new ConfigurationError(
      `Input \`artifact-retention-days\` must be between 1 and 90, got ${retentionDays}`,
      'GitHub keeps artifacts at most 90 days (less when the repository says so); leave it empty for the repository setting'
    )
  }
  return {
    enabled: parseBoolean(read('artifact'), 'artifact', true),
    ...(name === undefined ? {} : { name }),
    ...(retentionDays === undefined ? {} : { retentionDays })
  }
}

/** A run needs a task: the prompt, or an event (a trigger comment, an issue) that brings one. */
export function requirePrompt(prompt: string, eventBringsText: boolean): void {
  if (prompt.trim() !== '' || eventBringsText) return
  throw new ConfigurationError(
    'No task: neither `prompt` nor `prompt-file` is set',
    'Add `prompt: <the task>` (or `prompt-file: path`) under `with:`'
  )
}

/** Parsed here only to refuse a bad entry before anything starts; the proxy parses it again. */
function validAllowedDomains(text: string): string {
  parseAllowedDomains(text)
  return text
}

/** The publishing inputs, shared by action.yml and publish/action.yml (src/publish-main.ts). */
export function getPublishSettings(read: InputReader): PublishSettings {
  const protectedPaths = read('protected-paths')
  return {
    mode: oneOf(read('publish'), PUBLISH_MODES, 'publish', 'auto'),
    githubToken: read('github-token').trim() || undefined,
    branch: read('branch').trim() || undefined,
    baseBranch: read('base-branch').trim() || undefined,
    commitMessage: read('commit-message').trim() || undefined,
    prTitle: read('pr-title').trim() || undefined,
    prBody: read('pr-body').trim() || undefined,
    prLabels: splitList(read('pr-labels')),
    prDraft: parseBoolean(read('pr-draft'), 'pr-draft', false),
    // Only `!` entries: exceptions to the defaults; any plain entry: a list of its own.
    protectedPaths: resolveProtectedPaths(splitList(protectedPaths)),
    maxFileBytes: parseSize(read('max-file-size'), 'max-file-size', DEFAULT_MAX_FILE_BYTES),
    secretScan: parseSwitch(read('secret-scan'), 'secret-scan', true),
    secretScanAllow: splitList(read('secret-scan-allow'))
  }
}

/** A boolean input that also takes on/off (`secret-scan: on`). */
function parseSwitch(value: string, inputName: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase()
  if (v === 'on') return true
  if (v === 'off') return false
  return parseBoolean(value, inputName, fallback)
}

/** Credentials are checked apart from the rest: a run that decides not to act needs none. */
export function requireCredentials(settings: Settings, env: NodeJS.ProcessEnv = process.env): void {
  const { credentials } = settings
  // Bedrock's and Vertex's come from the job's cloud credentials, checked when the provider opens.
  if (credentials.provider !== 'anthropic') return
  if (credentials.apiKey || credentials.oauthToken || credentials.authToken) return
  if (credentials.federation) return
  const fork = env.GITHUB_EVENT_NAME === 'pull_request'
  throw new ConfigurationError(
    'No credentials: `anthropic-api-key` and `claude-code-oauth-token` are both empty' +
      (fork ? ' (pull requests from forks get no secrets)' : ''),
    'Add `anthropic-api-key: ${{ secrets.ANTHROPIC_API_KEY }}` under `with:` and create that repository secret, or go keyless: `provider: bedrock` or `provider: vertex` after your cloud’s credentials step, or `anthropic-federation-rule-id` with `anthropic-organization-id`'
  )
}
