import { ConfigurationError } from '../../errors.js'
import { attempt } from '../client.js'
import { branchMovedError, fastForward } from '../commit.js'
import { branchHead } from '../git-data.js'
import { commitStagedOnto, pullRequestOf, type Publisher, type Target } from './publisher.js'

/**
 * publish: commit — one commit on the pull request's branch (or the pushed branch), made through
 * the Git Data API, only when the branch is still where the agent's checkout was.
 */

export interface CommitTarget extends Target {
  branch: string
  /** The head the change was made on; the branch must still point there. */
  expected: string
}

export const commitPublisher: Publisher<CommitTarget> = {
  async target(client, s) {
    const { context } = s.request
    const pr = await pullRequestOf(client, s)
    let branch: string
    let expected: string
    if (pr) {
      const ours = `${context.owner}/${context.repo}`.toLowerCase()
      if (pr.headRepo?.toLowerCase() !== ours) {
        const from = pr.headRepo ?? 'a deleted fork'
        return {
          kind: 'comment-instead',
          note: `Pull request #${pr.number} comes from ${from}, where this workflow cannot push; the change is posted as a comment instead of a commit`
        }
      }
      branch = pr.headRef
      // The head when the event fired; for a comment-triggered run, the commit that was checked out.
      expected =
        pr.headSha && context.payload.pull_request ? pr.headSha : (s.checkoutHead ?? pr.headSha)
    } else if (context.ref?.startsWith('refs/heads/')) {
      branch = context.ref.slice('refs/heads/'.length)
      expected = context.sha ?? s.checkoutHead ?? ''
    } else {
      throw new ConfigurationError(
        `publish: commit needs a pull request or a branch, and this run is on ${context.ref ?? 'no ref'}`,
        'Use publish: pull-request (or comment) for this trigger'
      )
    }
    return {
      kind: 'target',
      target: {
        branch,
        expected,
        base: () => Promise.resolve(expected),
        baseLabel: `the head of \`${branch}\``
      }
    }
  },

  async publish(client, s, { branch, expected }, staged) {
    if (staged.files.length === 0) {
      return { mode: 'commit', message: 'No changes: nothing was committed', warnings: s.warnings }
    }
    const current = await attempt(
      { what: `read the branch ${branch}`, permissions: ['contents: read'] },
      () => branchHead(client, s.repo, branch)
    )
    if (current !== expected) throw branchMovedError(branch, expected, current)
    const { commit } = await commitStagedOnto(client, s, staged, current, branch)
    if (!commit) {
      return {
        mode: 'commit',
        message: `No changes: \`${branch}\` already has this content; nothing was committed`,
        warnings: s.warnings
      }
    }
    await fastForward(client, s.repo, branch, commit, current)
    s.log.info(`Committed ${commit} to ${branch}`)
    return {
      mode: 'commit',
      commitSha: commit,
      message: `Committed ${staged.files.length} file(s) to \`${branch}\` as ${commit.slice(0, 12)}`,
      warnings: s.warnings
    }
  }
}
