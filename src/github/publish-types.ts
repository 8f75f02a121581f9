import type { RunFigures } from '../report/comment.js'
import type { PublishSettings } from '../settings.js'
import type { SecretScanSettings } from '../secrets/verdict.js'
import type { ClientOptions, Logger } from './client.js'
import type { CommentThread } from '../continuation/thread.js'
import type { PublishContext, ResolvedPublishMode } from './context.js'

/** How the run went, for the comment, the review and the pull request body. */
export interface RunReport extends RunFigures {
  /**
   * The verdict: the main action's own, or the publish action's `conclusion` input (the agent
   * job's output). Never read from the transcript, which the agent could have written.
   */
  conclusion: string
  /** One sentence about how it ended (AgentOutcome.message). */
  outcomeMessage?: string
  finalMessage?: string
  executionFile?: string
  /** Name of the workflow artifact holding the patch, when one was uploaded. */
  artifactName?: string
  /** Web page of that artifact, when known. */
  artifactUrl?: string
  /** A resumed run's comment keeps the earlier runs' part (src/continuation/thread.ts). */
  thread?: CommentThread
}

export interface PublishRequest {
  /** Already resolved from `auto` (resolvePublishMode). */
  mode: ResolvedPublishMode
  /**
   * A checkout of the repository at the commit the patch was made against; only read. When it
   * holds no repository, the patch is staged against GitHub's copy of the files it touches.
   */
  workspace: string
  patchPath: string
  report: RunReport
  settings: Omit<PublishSettings, 'mode'>
  context: PublishContext
  /** Largest new file that may be published (path policy); its default when absent. */
  maxFileBytes?: number
  log?: Logger
  /** Client tuning for tests and benchmarks (faster retries, write queue). */
  client?: Omit<ClientOptions, 'token' | 'baseUrl' | 'log'>
  /** Tree request size for the Git Data API (tests). */
  batchBytes?: number
  /** The secret scan (`secret-scan`, `secret-scan-allow`) and the run's known secrets. */
  secrets?: SecretScanSettings
}

export interface PublishResult {
  /** The mode actually used (commit falls back to comment for a fork's pull request). */
  mode: ResolvedPublishMode
  commentUrl?: string
  commitSha?: string
  pullRequestUrl?: string
  pullRequestNumber?: number
  /** The review, for publish: review. */
  reviewUrl?: string
  /** How many suggested changes the review carries. */
  suggestions?: number
  /** A sentence for the log and the job summary. */
  message: string
  /** Things the user should know that did not stop publishing. */
  warnings: string[]
}
