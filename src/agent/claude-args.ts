import { webSearchAllowed } from '../api-door/api-policy.js'
import type { NetworkMode, TaskSettings } from '../settings.js'

/** A toolchain the agent can use, as the sandbox found it (src/sandbox/tool-cache.ts). */
export interface NoteToolchain {
  /** The tool's directory name in the runner's tool cache (`node`, `Python`, `go` …). */
  tool: string
  version: string
  /** Its bin directory inside the container (first on PATH). */
  binDir: string
}

/** What the agent is told about its sandbox, beyond the fixed rules. */
export interface SandboxNotesContext {
  network: NetworkMode
  /** `allowed-domains` entries as written (restricted mode). */
  allowedDomains?: string[]
  /** `protected-paths` globs: changes there make the host refuse to publish. */
  protectedPaths?: string[]
  /** Toolchains from the runner's tool cache, first on PATH. */
  toolchains?: NoteToolchain[]
  /** Installed in the runner's tool cache but not on PATH. */
  availableToolchains?: NoteToolchain[]
  /** The repository's host path, where it is mounted as well (the job's installs refer to it). */
  workspaceAlias?: string
  /** Credential files earlier steps left, which the agent sees empty (src/credentials/). */
  hiddenFiles?: string[]
  /** The git config the agent sees had credentials taken out. */
  gitConfigSanitised?: boolean
}

/** At most this many allowed hosts and protected globs are listed; the rest are counted. */
const MAX_LISTED = 20

function listed(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).map(item => `\`${item}\``)
  const more = items.length - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ')
}

/**
 * What the sandbox tells the agent about itself (appended to its system prompt), so it works
 * with the sandbox instead of fighting it: it cannot commit, most of the network is closed (so
 * it uses what the job installed instead of spending turns on `npm install`), which toolchains
 * it has, and which paths will not be published.
 */
export function sandboxNotes(context: NetworkMode | SandboxNotesContext): string {
  const notes: SandboxNotesContext = typeof context === 'string' ? { network: context } : context
  const lines = [
    'You are running unattended inside a sandbox container, on the repository at /workspace.',
    'Your changes are collected from the working tree when you finish and published by the host: just edit the files.',
    'The .git directory is read-only: do not commit, stash, reset, switch branches or change git config; leave the changes uncommitted.'
  ]
  if (notes.network === 'restricted') {
    const allowed = notes.allowedDomains ?? []
    lines.push(
      'The network is closed except for an HTTP(S) proxy (already configured in HTTP_PROXY/HTTPS_PROXY) that allows only the hosts the workflow lists; a refused host is not an error to work around.',
      allowed.length > 0
        ? `The hosts the workflow allows (its \`allowed-domains\` input): ${listed(allowed)}. Package registries not in that list cannot be reached.`
        : 'The workflow allows no hosts: package registries cannot be reached, so `npm install`, `pip install`, `go mod download` and the like fail. Work offline with what the job installed before this step (node_modules, .venv, vendor/); if a dependency is missing, say so in your final message (the workflow can open the registry with its `allowed-domains` input) instead of trying to download it.'
    )
  } else {
    lines.push('The network is open.')
  }
  const toolchains = notes.toolchains ?? []
  if (toolchains.length > 0) {
    lines.push(
      `Toolchains the job set up (first on PATH): ${toolchains
        .map(t => `${t.tool} ${t.version} (${t.binDir})`)
        .join(', ')}. Use them to build and run the tests.`
    )
  }
  const available = notes.availableToolchains ?? []
  if (available.length > 0) {
    lines.push(
      `Also installed in the runner's tool cache, not on PATH and not checked to run here (prepend the directory to PATH to use one): ${available
        .map(t => `${t.tool} ${t.version} (${t.binDir})`)
        .join(', ')}.`
    )
  }
  if (notes.workspaceAlias) {
    lines.push(
      `The repository is also mounted at ${notes.workspaceAlias}, its path on the runner, so virtualenvs and other installs made there by the job work as they are.`
    )
  }
  const protectedPaths = notes.protectedPaths ?? []
  if (protectedPaths.length > 0) {
    lines.push(
      `These paths are protected: if you change anything matching ${listed(protectedPaths)}, the host refuses to publish any of your work. Do not change them; if the task needs such a change, describe it in your final message instead.`
    )
  }
  const hidden = notes.hiddenFiles ?? []
  if (hidden.length > 0) {
    lines.push(
      `These files hold credentials that earlier steps of the job wrote: ${listed(hidden)}. You see each one empty and read-only, on purpose; they are never published. Do not try to recreate or work around them; if the task needs a credential, say so in your final message.`
    )
  }
  if (notes.gitConfigSanitised) {
    lines.push(
      'The git config you see has its credentials (tokens, credential helpers) taken out; there is nothing to push or fetch with, and you need not.'
    )
  }
  lines.push(
    'Before anything you write is published (the patch, your final message), the host scans it for secrets: a change holding one is not committed. Never write tokens, keys or passwords into files or messages.'
  )
  lines.push('Nothing outside /workspace, /tmp and your home directory is writable.')
  return lines.join('\n')
}

/**
 * The CLI's argument list (the prompt goes on standard input, so no argument can be mistaken for
 * it and its size is not limited by the kernel's argument limit).
 */
export function claudeArgs(
  task: TaskSettings,
  context: NetworkMode | SandboxNotesContext
): string[] {
  const args = [
    'claude',
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--dangerously-skip-permissions'
  ]
  if (task.model) args.push('--model', task.model)
  if (task.maxTurns !== undefined) args.push('--max-turns', String(task.maxTurns))
  // A follow-up continues the saved session (src/continuation/); the prompt is the new turn.
  if (task.resumeSessionId) args.push('--resume', task.resumeSessionId)
  const system = [sandboxNotes(context), task.appendSystemPrompt].filter(Boolean).join('\n\n')
  args.push('--append-system-prompt', system)
  // Each rule is its own word: rules such as `Bash(git diff:*)` contain spaces.
  if (task.allowedTools.length > 0) args.push('--allowedTools', ...task.allowedTools)
  // The gateway refuses server-side web search unless it is allowed (api-policy.ts): take the
  // tool away too, so the model does not spend a turn on a call that cannot succeed.
  const network = typeof context === 'string' ? context : context.network
  const disallowed = webSearchAllowed({ network, ...task })
    ? task.disallowedTools
    : [...task.disallowedTools, 'WebSearch']
  if (disallowed.length > 0) args.push('--disallowedTools', ...disallowed)
  args.push(...task.claudeArgs)
  return args
}
