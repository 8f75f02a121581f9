import type { TaskSettings } from '../settings.js'

/**
 * What the sandbox tells the agent about itself (appended to its system prompt), so it works
 * with the sandbox instead of fighting it: it cannot commit, and most of the network is closed.
 */
export function sandboxNotes(network: 'restricted' | 'open'): string {
  const lines = [
    'You are running unattended inside a sandbox container, on the repository at /workspace.',
    'Your changes are collected from the working tree when you finish and published by the host: just edit the files.',
    'The .git directory is read-only: do not commit, stash, reset, switch branches or change git config; leave the changes uncommitted.',
    network === 'restricted'
      ? 'The network is closed except for an HTTP(S) proxy (already configured in HTTP_PROXY/HTTPS_PROXY) that allows only the hosts the workflow lists; a refused host is not an error to work around.'
      : 'The network is open.',
    'Nothing outside /workspace, /tmp and your home directory is writable.'
  ]
  return lines.join('\n')
}

/**
 * The CLI's argument list (the prompt goes on standard input, so no argument can be mistaken for
 * it and its size is not limited by the kernel's argument limit).
 */
export function claudeArgs(task: TaskSettings, network: 'restricted' | 'open'): string[] {
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
  const system = [sandboxNotes(network), task.appendSystemPrompt].filter(Boolean).join('\n\n')
  args.push('--append-system-prompt', system)
  // Each rule is its own word: rules such as `Bash(git diff:*)` contain spaces.
  if (task.allowedTools.length > 0) args.push('--allowedTools', ...task.allowedTools)
  if (task.disallowedTools.length > 0) args.push('--disallowedTools', ...task.disallowedTools)
  args.push(...task.claudeArgs)
  return args
}
