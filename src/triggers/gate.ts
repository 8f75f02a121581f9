import { readFileSync, existsSync } from 'node:fs'
import { ConfigurationError, errorMessage } from '../errors.js'
import type { Settings } from '../settings.js'
import type { GitHubReader, TriggerDecision } from './event.js'
import { resolveTrigger } from './resolve.js'

/**
 * Decides from the workflow's event whether the agent runs at all, checking the actor's write
 * permission through the API for comment and label triggers. Events that need no API call (a
 * schedule, a dispatch, a same-repository pull request) need no token.
 */
export async function decideRun(
  settings: Settings,
  env: NodeJS.ProcessEnv = process.env
): Promise<TriggerDecision> {
  const eventPath = env.GITHUB_EVENT_PATH
  let payload: unknown = {}
  if (eventPath && existsSync(eventPath)) {
    try {
      payload = JSON.parse(readFileSync(eventPath, 'utf8'))
    } catch (error: unknown) {
      throw new ConfigurationError(
        `The event payload ${eventPath} is not JSON (${errorMessage(error)})`
      )
    }
  }
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '/').split('/')
  const token = settings.publish.githubToken
  const client: GitHubReader = token
    ? lazyOctokit(token, env.GITHUB_API_URL || 'https://api.github.com')
    : {
        request: () => {
          throw new ConfigurationError(
            "This event needs a GitHub API call (the actor's permission, or the pull request), but `github-token` is empty",
            'Leave `github-token` at its default (${{ github.token }}) or pass a token that can read the repository'
          )
        }
      }
  try {
    return await resolveTrigger({
      eventName: env.GITHUB_EVENT_NAME ?? '',
      payload,
      triggerPhrase: settings.trigger.triggerPhrase,
      labelTrigger: settings.trigger.labelTrigger ?? '',
      client,
      owner,
      repo
    })
  } catch (error: unknown) {
    if (error instanceof ConfigurationError) throw error
    throw new ConfigurationError(
      `Could not check who triggered this run through the GitHub API (${errorMessage(error)})`,
      'Give the job `permissions: pull-requests: read` (and `contents: read`), or check `github-token`'
    )
  }
}

/**
 * An Octokit client made on its first request: most events (a dispatch, a schedule, a pull
 * request from the same repository) need no API call, and loading the client is a measurable
 * part of the action's start (issue 22).
 */
function lazyOctokit(token: string, baseUrl: string): GitHubReader {
  let client: Promise<GitHubReader> | undefined
  return {
    request: async (route, parameters) => {
      client ??= import('@actions/github').then(({ getOctokit }) => getOctokit(token, { baseUrl }))
      return (await client).request(route, parameters)
    }
  }
}
