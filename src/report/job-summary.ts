import * as core from '@actions/core'
import { existsSync, readFileSync } from 'node:fs'
import type { AgentOutcome } from '../agent/result.js'
import { errorMessage } from '../errors.js'
import type { PatchResult } from '../git/patch.js'
import type { PreparedImage } from '../image/prepare.js'
import type { RunPaths } from '../run-paths.js'
import type { SessionResult } from '../sandbox/session.js'
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
  /** What publishing did, or why it did not happen. */
  published?: string
}

/** Writes the job summary. A failure to write it is a warning: the result is already kept. */
export async function writeJobSummary(input: JobSummaryInput): Promise<void> {
  const { outcome, patch, paths, image, session } = input
  const patchExists = existsSync(patch.patchPath)
  await core.summary
    .addRaw(
      renderSummary({
        outcome,
        files: patch.files,
        insertions: patch.insertions,
        deletions: patch.deletions,
        patchPath: patchExists ? patch.patchPath : undefined,
        executionFile: paths.executionFile,
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
        published: input.published
      }) + renderPatchSummary(patchExists ? readFileSync(patch.patchPath, 'utf8') : '')
    )
    .write()
    .catch((error: unknown) =>
      core.warning(`Could not write the job summary: ${errorMessage(error)}`)
    )
}
