import path from 'node:path'
import type { Toolchain } from './tool-cache.js'

/**
 * Whether the tool cache's tools run in the sandbox image: each known tool answers its version
 * command once, inside the agent's own container, before the CLI starts. The host writes the
 * script (probeScript) beside the gateway's socket and names it in SANDBOX_TOOL_PROBE; the
 * entrypoint runs it with an empty environment and, when a tool fails (built for another C
 * library or a newer glibc), prints the failing lines on stderr and exits with TOOL_PROBE_EXIT
 * before anything else has happened. The session then starts the container again without those
 * tools, with the warning made here.
 *
 * It used to be a container of its own before the agent's: 0.6 s on every run with a toolchain
 * (issue 22's start). In the agent's container the check costs the tools' own start-up, and a
 * broken tool (rare: a base image of another distribution) costs one more container start.
 */

/** The file name of the script in the socket directory (/run/sandbox inside). */
export const TOOL_PROBE_FILE = 'tool-probe.sh'
/** The entrypoint's exit status when a tool failed its check (65 is the missing gateway socket). */
export const TOOL_PROBE_EXIT = 66

/** The command each known tool answers cheaply with its version. */
export function versionCommand(
  tool: string
): { executables: string[]; args: string[] } | undefined {
  const name = tool.toLowerCase()
  if (name === 'node') return { executables: ['node'], args: ['--version'] }
  if (name === 'python') return { executables: ['python3', 'python'], args: ['--version'] }
  if (name === 'pypy') return { executables: ['pypy3', 'pypy'], args: ['--version'] }
  if (name === 'go') return { executables: ['go'], args: ['version'] }
  if (name.startsWith('java') || name.includes('jdk'))
    return { executables: ['java'], args: ['-version'] }
  if (name === 'ruby') return { executables: ['ruby'], args: ['--version'] }
  if (name === 'dotnet') return { executables: ['dotnet'], args: ['--version'] }
  if (name === 'bun') return { executables: ['bun'], args: ['--version'] }
  if (name === 'deno') return { executables: ['deno'], args: ['--version'] }
  return undefined
}

const PROBE_MARK = 'TOOLPROBE'

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/**
 * A POSIX shell script that runs each toolchain's version command once (10 s each at most) and
 * prints `TOOLPROBE <index> <exit code> <base64 of the first 400 bytes of output>` per toolchain.
 * Tools it does not know are not probed.
 */
export function probeScript(toolchains: Toolchain[]): string {
  const lines = [
    '#!/bin/sh',
    'probe() {',
    '  i="$1"; shift',
    '  out=$(timeout 10 "$@" 2>&1 </dev/null)',
    '  code=$?',
    `  printf '${PROBE_MARK} %s %s %s\\n' "$i" "$code" "$(printf '%s' "$out" | head -c 400 | base64 | tr -d '\\n')"`,
    '}'
  ]
  toolchains.forEach((toolchain, index) => {
    const command = versionCommand(toolchain.tool)
    if (!command) return
    const candidates = toolchain.pathEntries.flatMap(dir =>
      command.executables.map(exe => path.join(dir, exe))
    )
    const tests = candidates
      .map(
        candidate =>
          `if [ -e ${shellQuote(candidate)} ]; then probe ${index} ${shellQuote(candidate)} ${command.args.map(shellQuote).join(' ')};`
      )
      .join(' el')
    if (tests) lines.push(`${tests} fi`)
  })
  return lines.join('\n') + '\n'
}

export interface ProbeResult {
  toolchain: Toolchain
  exitCode: number
  output: string
}

/** Reads probeScript's output lines back (pure); the entrypoint prints only the failing ones. */
export function parseProbeOutput(stdout: string, toolchains: Toolchain[]): ProbeResult[] {
  const results: ProbeResult[] = []
  for (const line of stdout.split('\n')) {
    const match = new RegExp(`^${PROBE_MARK} (\\d+) (\\d+) ?([A-Za-z0-9+/=]*)$`).exec(line.trim())
    const toolchain = match ? toolchains[Number(match[1])] : undefined
    if (!match || !toolchain) continue
    results.push({
      toolchain,
      exitCode: Number(match[2]),
      output: Buffer.from(match[3] ?? '', 'base64').toString('utf8')
    })
  }
  return results
}

/** Why a probe failed, in a few words, from its exit code and output. */
export function probeFailure(result: ProbeResult): string {
  const first =
    result.output
      .split('\n')
      .map(line => line.trim())
      .find(line => line !== '') ?? ''
  const why =
    result.exitCode === 124
      ? 'it did not answer within 10 s'
      : result.exitCode === 126 || result.exitCode === 127
        ? 'it cannot be executed here (built for another C library or a newer glibc)'
        : `its version check exited with ${result.exitCode}`
  return first ? `${why}: ${first.slice(0, 200)}` : why
}

/** The one warning about tools of the tool cache that cannot run in the image. */
export function brokenToolsWarning(broken: ProbeResult[]): string {
  const tools = broken
    .map(result => `${result.toolchain.tool} ${result.toolchain.version} (${probeFailure(result)})`)
    .join('; ')
  return (
    `Tools from the runner's tool cache cannot run in the sandbox image and were left off its PATH: ${tools}. ` +
    "Set `base-image` to an image of the runner's OS (ubuntu:24.04 for ubuntu-24.04 runners) or one that has these tools, " +
    'or set `runner-tool-cache: false` to leave the tool cache out'
  )
}

/** Whether a line of the container's stderr is one of the entrypoint's probe lines. */
export function isProbeLine(line: string): boolean {
  return line.startsWith(`${PROBE_MARK} `)
}

/** The tools the entrypoint reported failing, from the probe lines of its stderr. */
export function failedProbes(probeLines: string[], toolchains: Toolchain[]): ProbeResult[] {
  return parseProbeOutput(probeLines.join('\n'), toolchains).filter(probe => probe.exitCode !== 0)
}
