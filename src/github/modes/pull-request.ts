import { ConfigurationError } from '../../errors.js'
import { digestPatchText } from '../../git/patch-digest.js'
import { renderPullRequestBody } from '../../report/comment.js'
import { attempt } from '../client.js'
import { branchHead } from '../git-data.js'
import {
  defaultBaseBranch,
  defaultBranchName,
  openOrUpdatePullRequest,
  resetBranch,
  validateBranchName
} from '../pull-request.js'
import type { PublishResult } from '../publish-types.js'
import { commitStagedOnto, reportFields, type Publisher, type Target } from './publisher.js'

/**
 * publish: pull-request — the change as one commit on the base branch's head, on a branch of
 * this workflow and job (reset on every run), with one pull request kept open for it.
 */

export interface PullRequestTarget extends Target {
  branch: string
  base: () => Promise<string>
  baseBranch: string
  baseHead: string
}

export const pullRequestPublisher: Publisher<PullRequestTarget> = {
  async target(client, s) {
    const { context, settings } = s.request
    const branch = settings.branch ?? defaultBranchName(context)
    validateBranchName(branch, settings.branch ? 'branch' : 'the default branch name')
    const baseBranch = settings.baseBranch ?? (await defaultBaseBranch(client, s.repo, context))
    if (settings.baseBranch) validateBranchName(baseBranch, 'base-branch')
    if (branch === baseBranch) {
      throw new ConfigurationError(
        `\`branch\` and \`base-branch\` are both \`${baseBranch}\``,
        'pull-request mode commits to its own branch; name another `branch` (or use publish: commit)'
      )
    }
    if (s.staged?.files.length === 0) return { kind: 'done', result: noChanges(s.warnings) }
    const baseHead = await attempt(
      { what: `read the base branch ${baseBranch}`, permissions: ['contents: read'] },
      () => branchHead(client, s.repo, baseBranch)
    )
    if (!baseHead) {
      throw new ConfigurationError(
        `The base branch \`${baseBranch}\` does not exist in ${context.owner}/${context.repo}`,
        'Set `base-branch` to an existing branch'
      )
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
    }
  },

  async publish(client, s, { branch, baseBranch, baseHead }, staged) {
    const { context, settings } = s.request
    if (staged.files.length === 0) return noChanges(s.warnings)
    const { commit } = await commitStagedOnto(client, s, staged, baseHead, baseBranch)
    if (!commit) {
      return {
        mode: 'pull-request',
        message: `No changes: \`${baseBranch}\` already has this content; nothing was committed and no pull request opened`,
        warnings: s.warnings
      }
    }
    const how = await resetBranch(client, s.repo, branch, commit)
    s.log.info(`${how === 'created' ? 'Created' : 'Reset'} the branch ${branch} at ${commit}`)
    const body = renderPullRequestBody({
      ...reportFields(s, staged),
      digest: digestPatchText(s.patchText),
      ...(settings.prBody ? { userBody: settings.prBody } : {}),
      workflow: context.workflow,
      job: context.job,
      branch
    })
    const pr = await openOrUpdatePullRequest(client, s.repo, {
      branch,
      base: baseBranch,
      title: settings.prTitle ?? `Changes from Claude Code (${context.workflow})`,
      body,
      draft: settings.prDraft,
      labels: settings.prLabels
    })
    s.log.info(`${pr.created ? 'Opened' : 'Updated'} pull request ${pr.url}`)
    return {
      mode: 'pull-request',
      commitSha: commit,
      pullRequestUrl: pr.url,
      pullRequestNumber: pr.number,
      message: `${pr.created ? 'Opened' : 'Updated'} pull request #${pr.number} from \`${branch}\` (${staged.files.length} file(s))`,
      warnings: s.warnings
    }
  }
}

function noChanges(warnings: string[]): PublishResult {
  return {
    mode: 'pull-request',
    message: 'No changes: nothing was committed and no pull request opened',
    warnings
  }
}
