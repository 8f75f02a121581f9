import { spawn, type StdioOptions } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'

/**
 * Host-side git, hardened against a repository the agent has written to: no system or global
 * config, no hooks, no fsmonitor, no external diff or textconv, no pager, no prompts. Every
 * command is binary-safe (stdout and stderr are Buffers) and never goes through a shell.
 */
export interface GitResult {
  exitCode: number
  stdout: Buffer
  stderr: Buffer
}

export interface GitOptions {
  /** Extra environment, e.g. GIT_INDEX_FILE for a throw-away index. */
  env?: Record<string, string>
  /** Bytes written to git's standard input. */
  input?: Buffer | string
  /** Accept these exit codes as success (e.g. 1 for `diff --quiet`). */
  okExitCodes?: number[]
}

/** Config given on every call; `-c` wins over anything in the repository's own config. */
export function hardenedConfigArgs(workspace: string): string[] {
  return [
    '-c',
    'core.hooksPath=/dev/null',
    '-c',
    'core.fsmonitor=false',
    '-c',
    'core.untrackedCache=false',
    '-c',
    'core.pager=cat',
    '-c',
    'diff.external=',
    '-c',
    'protocol.ext.allow=never',
    '-c',
    // Only the repository's own attributes (info/attributes and the tree); see contentView.
    'core.attributesFile=/dev/null',
    '-c',
    `safe.directory=${workspace}`
  ]
}

/** Environment for every call: the caller's PATH and nothing of its git configuration. */
export function hardenedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.RUNNER_TEMP ?? '/tmp',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_PAGER: 'cat',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_ATTR_NOSYSTEM: '1',
    LC_ALL: 'C'
  }
  return { ...env, ...extra }
}

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly result: GitResult
  ) {
    const stderr = result.stderr.toString('utf8').trim().split('\n').slice(-3).join(' | ')
    super(`git ${args[0] ?? ''} failed (exit ${result.exitCode}): ${stderr}`)
    this.name = 'GitError'
  }
}

export interface Git {
  readonly workspace: string
  /** Runs git; throws GitError on an exit code that is not accepted. */
  run(args: string[], options?: GitOptions): Promise<GitResult>
  /** Runs git and returns stdout as UTF-8 text, trailing newline removed. */
  text(args: string[], options?: GitOptions): Promise<string>
  /** Runs git and returns the result whatever the exit code. */
  tryRun(args: string[], options?: GitOptions): Promise<GitResult>
  /**
   * Runs git with its stdout appended to `filePath` (the file descriptor is git's own stdout, so
   * output of any size never passes through this process); throws GitError on failure.
   */
  runToFile(args: string[], filePath: string, options?: GitOptions): Promise<void>
}

/**
 * Where git runs for a view that sees the repository's objects but not its working tree: an
 * empty directory standing in for the work tree (git reads `.gitattributes` from the work tree
 * and then from the index, so both are empty there).
 */
export interface ContentView {
  /** The repository's git directory (`rev-parse --absolute-git-dir`). */
  gitDir: string
  /** An empty directory, used as the work tree and as the current directory. */
  emptyDir: string
  /** An index file that does not exist, used unless a call brings its own GIT_INDEX_FILE. */
  noIndex: string
}

/**
 * A git wrapper for `workspace`. With `view`, every call runs against the repository's objects
 * from an empty work tree, so no `.gitattributes` the agent wrote (`-diff`, `binary`, `diff=…`,
 * `text`, `eol`, `filter`) can change what a diff shows: binary is decided by content.
 */
export function createGit(workspace: string, view?: ContentView): Git {
  const location = view
    ? [
        '--git-dir',
        view.gitDir,
        '--work-tree',
        view.emptyDir,
        '-c',
        `safe.directory=${view.gitDir}`
      ]
    : []
  const spawnGit = (
    args: string[],
    options: GitOptions,
    stdout: 'pipe' | number
  ): Promise<GitResult> =>
    new Promise((resolve, reject) => {
      const stdio: StdioOptions = ['pipe', stdout, 'pipe']
      const child = spawn('git', [...location, ...hardenedConfigArgs(workspace), ...args], {
        cwd: view ? view.emptyDir : workspace,
        env: hardenedEnv(view ? { GIT_INDEX_FILE: view.noIndex, ...options.env } : options.env),
        stdio
      })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr?.on('data', (chunk: Buffer) => err.push(chunk))
      child.on('error', reject)
      child.on('close', code =>
        resolve({ exitCode: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })
      )
      child.stdin?.on('error', () => undefined) // git may exit before reading all input
      child.stdin?.end(options.input ?? '')
    })
  const tryRun = (args: string[], options: GitOptions = {}): Promise<GitResult> =>
    spawnGit(args, options, 'pipe')

  const run = async (args: string[], options: GitOptions = {}): Promise<GitResult> => {
    const result = await tryRun(args, options)
    const ok = [0, ...(options.okExitCodes ?? [])]
    if (!ok.includes(result.exitCode)) throw new GitError(args, result)
    return result
  }

  const runToFile = async (args: string[], filePath: string, options: GitOptions = {}) => {
    const fd = openSync(filePath, 'a')
    let result: GitResult
    try {
      result = await spawnGit(args, options, fd)
    } finally {
      closeSync(fd)
    }
    if (![0, ...(options.okExitCodes ?? [])].includes(result.exitCode)) {
      throw new GitError(args, result)
    }
  }

  return {
    workspace,
    run,
    tryRun,
    runToFile,
    text: async (args, options) =>
      (await run(args, options)).stdout.toString('utf8').replace(/\n$/, '')
  }
}
