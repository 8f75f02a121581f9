/**
 * Everything the action needs, parsed and validated once by inputs.ts. The names mirror the
 * inputs in action.yml (see shared design: action-interface.md); defaults are applied here, so
 * nothing downstream re-reads an input.
 */
import type { PriceTable } from './api-door/pricing.js'
import type { ProviderSettings } from './api-door/providers/provider-inputs.js'
import type { DiskFloor } from './sandbox/disk-guard.js'
import type { ContinueSetting } from './continuation/scope.js'

export type NetworkMode = 'restricted' | 'open'
export type PublishMode = 'auto' | 'comment' | 'commit' | 'pull-request' | 'review' | 'patch'

export interface TaskSettings {
  /** The prompt text (from `prompt`; main.ts fills it from `prompt-file` once the event is known). */
  prompt: string
  /** `prompt-file` as given; read by prompt-file.ts (from the commit when inside the repository). */
  promptFile?: string
  model?: string
  maxTurns?: number
  allowedTools: string[]
  disallowedTools: string[]
  appendSystemPrompt?: string
  /** `claude-args`, already split into words (never given to a shell). */
  claudeArgs: string[]
  claudeCodeVersion: string
  timeoutMs: number
  /** Set by src/continuation/ when the run resumes a saved session (`claude --resume`). */
  resumeSessionId?: string
}

/** The provider's inputs (`provider`, `aws-region`, ...) are in ProviderSettings. */
export interface CredentialSettings extends Omit<ProviderSettings, 'defaultBaseUrl'> {
  apiKey?: string
  oauthToken?: string
  /**
   * The upstream: `anthropic-base-url`, or the provider's own (Anthropic's API, the region's
   * bedrock-runtime endpoint, the region's Vertex AI endpoint ending in /v1).
   */
  baseUrl: string
}

export interface SandboxSettings {
  network: NetworkMode
  /** Raw `allowed-domains` text; parsed by the egress proxy's allow-list. */
  allowedDomains: string
  /** Environment given to the container (the `env` input, bare keys already resolved). */
  env: Record<string, string>
  memory: string
  cpus: string
  pidsLimit: number
  workspace: string
  /** `max-budget-usd`: the gateway refuses every request once the spend reaches it. */
  maxBudgetUsd?: number
  /** The price table the spend is counted with (built-in, with `model-prices` applied). */
  modelPrices: PriceTable
  /** `min-free-disk`: below this free space on the workspace's filesystem the agent is stopped. */
  minFreeDisk: DiskFloor
  /** `runner-tool-cache`: mount the runner's tool cache read-only (src/sandbox/tool-cache.ts). */
  runnerToolCache: boolean
}

export interface ImageSettings {
  /** A prebuilt image; when set, nothing is built or cached. */
  image?: string
  /**
   * `base-image`: the image the agent layer is built on (any Debian or Ubuntu image), or
   * `devcontainer` for the `image` of .devcontainer/devcontainer.json, read from the commit.
   */
  baseImage?: string
  /** Absolute path of the Dockerfile; the bundled one when the input is empty. */
  dockerfile: string
  bundledDockerfile: boolean
  buildArgs: Record<string, string>
  extraPackages: string[]
  /** Absolute path of a PEM bundle, validated. */
  caCertificates?: string
  cache: boolean
  /**
   * `prebuilt-image`: `auto` pulls the released image by the digest the action records when the
   * inputs ask for exactly the bundled image (see image/prebuilt.ts); `never` always builds.
   * Absent means `auto`.
   */
  prebuiltImage?: PrebuiltImageMode
}

export const PREBUILT_IMAGE_MODES = ['auto', 'never'] as const
export type PrebuiltImageMode = (typeof PREBUILT_IMAGE_MODES)[number]

export interface PublishSettings {
  mode: PublishMode
  githubToken?: string
  branch?: string
  baseBranch?: string
  commitMessage?: string
  prTitle?: string
  prBody?: string
  prLabels: string[]
  prDraft: boolean
  /** Globs a change may not touch; `!` entries allow (see resolveProtectedPaths). */
  protectedPaths: string[]
  /**
   * Files larger than this are left out of the patch before it is made (never read) and listed
   * in the summary and the comment; a patch from elsewhere holding one is refused.
   */
  maxFileBytes?: number
  /** `secret-scan`: scan what is published for secrets (src/secrets/); on unless false. */
  secretScan?: boolean
  /** `secret-scan-allow`: globs of paths whose well-known-format findings are allowed. */
  secretScanAllow?: string[]
}

/** The workflow artifact holding the patch, the transcript and the logs (report/artifact.ts). */
export interface ArtifactSettings {
  /** `artifact`: upload at all. */
  enabled: boolean
  /** `artifact-name`; derived from the job and attempt when absent. */
  name?: string
  /** `artifact-retention-days` (1-90); the repository's setting when absent. */
  retentionDays?: number
}

export interface TriggerSettings {
  triggerPhrase: string
  labelTrigger?: string
}

export interface Settings {
  task: TaskSettings
  credentials: CredentialSettings
  sandbox: SandboxSettings
  image: ImageSettings
  publish: PublishSettings
  artifact: ArtifactSettings
  trigger: TriggerSettings
  /** `continue`: resume a saved session of the conversation (src/continuation/). */
  conversation: ContinueSetting
}
