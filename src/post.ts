import * as core from '@actions/core'
import { rmSync } from 'node:fs'
import { State } from './constants.js'
import { errorMessage } from './errors.js'
import { removeImageTarball, imageTarPath } from './image/cache.js'
import { removeRunContainers } from './sandbox/container.js'
import { returnWorkspace } from './sandbox/workspace.js'

/**
 * The post step: removes whatever the main step left (it may have been killed): the run's
 * containers, its private directory and the image tarball; gives the workspace back to its owner.
 * Only warnings here: the result was decided by the main step.
 */
export async function post(): Promise<void> {
  const steps: Array<[string, () => Promise<unknown>]> = [
    [
      'remove the agent container',
      async () => {
        const runId = core.getState(State.runId)
        if (!runId) return
        const removed = await removeRunContainers(runId)
        if (removed.length > 0) core.info(`Removed leftover container(s): ${removed.join(', ')}`)
      }
    ],
    [
      'remove the run directory',
      async () => {
        const dir = core.getState(State.runDir)
        if (dir) rmSync(dir, { recursive: true, force: true })
      }
    ],
    ['remove the image tarball', () => removeImageTarball(imageTarPath())],
    [
      'give the workspace back',
      async () => {
        const owner = core.getState(State.workspaceOwner)
        const workspace = core.getState(State.workspace)
        const match = /^(\d+):(\d+)$/.exec(owner)
        if (match && workspace)
          await returnWorkspace(workspace, { uid: Number(match[1]), gid: Number(match[2]) })
      }
    ]
  ]
  for (const [what, step] of steps) {
    try {
      await step()
    } catch (error: unknown) {
      core.warning(`Post step could not ${what}: ${errorMessage(error)}`)
    }
  }
}
