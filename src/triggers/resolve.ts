import {
  checkWritePermission,
  decideTrigger,
  fetchPullRequest,
  type GitHubReader,
  type TriggerDecision,
  type TriggerInput
} from './event.js'

export interface ResolveTriggerInput extends TriggerInput {
  /** Octokit (or anything with its `request`), authenticated with a token that can read the repo. */
  client: GitHubReader
  owner: string
  repo: string
}

/**
 * decideTrigger, then what it asks for through the API: the actor's write permission (a run
 * without it becomes `run: false` with a reason fit for a notice) and, for a comment on a pull
 * request, the pull request itself (so `pullRequest.baseSha` is there for the base branch's agent
 * configuration). A failed API call is thrown: the run must not go ahead unchecked.
 */
export async function resolveTrigger(input: ResolveTriggerInput): Promise<TriggerDecision> {
  const decision = decideTrigger(input)
  if (!decision.run) return decision
  const { client, owner, repo } = input
  const actor = decision.needsPermissionCheck?.actor
  if (actor !== undefined && !(await checkWritePermission(client, owner, repo, actor))) {
    return {
      run: false,
      reason:
        `${decision.reason}, but @${actor || '(unknown user)'} does not have write permission on ` +
        `${owner}/${repo}, so nothing was done`,
      untrusted: []
    }
  }
  if (decision.pullRequestNumber !== undefined && decision.pullRequest === undefined) {
    const pullRequest = await fetchPullRequest(client, owner, repo, decision.pullRequestNumber)
    return { ...decision, pullRequest }
  }
  return decision
}
