import * as core from '@actions/core'
import { existsSync } from 'node:fs'
import type { AgentOutcome } from '../agent/result.js'
import { errorMessage } from '../errors.js'
import type { PatchResult } from '../git/patch.js'
import { readPatchDigest } from '../git/patch-digest.js'
import type { PreparedImage } from '../image/prepare.js'
import type { RunPaths } from '../run-paths.js'
import type { SessionResult } from '../sandbox/session.js'
import { runPageUrl, type ArtifactOutcome } from './artifact.js'
import { renderPatchSummary } from './comment.js'
import { formatApiDoor } from './api-door.js'
import { formatDeniedHosts } from './denied-hosts.js'
import { renderSummary } from './summary.js'

export interface JobSummaryInput {
  outcome: AgentOutcome
  patch: PatchResult
  paths: RunPaths
  image: PreparedImage
  session: SessionResult
  /** The uploaded artifact, or why there is none (then the summary lists the runner paths). */
  artifact?: ArtifactOutcome
  /** What publishing did, or why it did not happen. */
  published?: string
  /** Whether the run resumed a conversation, and whether its session was saved. */
  conversationMarkdown?: string
}

/** Writes the job summary. A failure to write it is a warning: the result is already kept. */
export async function writeJobSummary(input: JobSummaryInput): Promise<void> {
  const { outcome, patch, paths, image, session, artifact } = input
  const patchExists = existsSync(patch.patchPath)
  // One streaming pass with bounded memory, whatever the patch's size.
  const digest = await readPatchDigest(patch.patchPath)
  const uploaded = artifact?.uploaded ? { name: artifact.name, url: artifact.url } : undefined
  const runUrl = runPageUrl()
  await core.summary
    .addRaw(
      renderSummary({
        outcome,
        files: patch.files,
        insertions: patch.insertions,
        deletions: patch.deletions,
        patchPath: patchExists ? patch.patchPath : undefined,
        executionFile: paths.executionFile,
        gatewayLog: existsSync(paths.gatewayLog) ? paths.gatewayLog : undefined,
        networkLog: existsSync(paths.networkLog) ? paths.networkLog : undefined,
        ...(uploaded ? { artifact: uploaded } : {}),
        ...(artifact && !artifact.uploaded && artifact.failed
          ? { artifactMissing: artifact.reason }
          : {}),
        ...(runUrl ? { runUrl } : {}),
        image: {
          id: image.id,
          cacheHit: image.cacheHit,
          setupMs: image.setupMs,
          built: image.built
        },
        deniedHostsMarkdown: formatDeniedHosts(session.deniedHosts, {
          omitted: session.deniedHostsOmitted
        }),
        apiDoorMarkdown: formatApiDoor(session.api, outcome),
        gatewayRequests: session.gatewayRequests,
        published: input.published,
        patchDigest: digest
      }) +
        (input.conversationMarkdown ? `\n${input.conversationMarkdown}\n` : '') +
        renderPatchSummary(digest, uploaded?.name, uploaded?.url)
    )
    .write()
    .catch((error: unknown) =>
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    )
}
