import path from 'node:path'
import { RUN_LABEL } from '../constants.js'
import { docker } from '../docker.js'
import { errorMessage } from '../errors.js'
import type { Toolchain, ToolCachePlan } from './tool-cache.js'

/**
 * Whether the tool cache's tools run in the sandbox image: each known tool answers its version
 * command once, in one short container as locked down as the agent's (no network, read-only, no
 * capabilities, the tool cache read-only). A tool built for another C library or a newer glibc
 * fails there, and tool-cache.ts leaves it off the PATH with the warning made here.
 */

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

/** Reads probeScript's output lines back (pure). */
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

export interface ProbeOptions {
  image: string
  user: { uid: number; gid: number }
  name: string
  runId: string
  timeoutMs?: number
}

/** `docker run` arguments of the probe: as locked down as the agent's container, no network. */
export function probeRunArgs(
  plan: ToolCachePlan & { root: string },
  options: ProbeOptions
): string[] {
  return [
    'run',
    '--rm',
    '--name',
    options.name,
    '--label',
    `${RUN_LABEL}=${options.runId}`,
    '--user',
    `${options.user.uid}:${options.user.gid}`,
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges:true',
    '--read-only',
    '--tmpfs',
    '/tmp:rw,nosuid,nodev,size=64m,mode=1777',
    '--network',
    'none',
    '--pids-limit',
    '256',
    '--memory',
    '1g',
    '--volume',
    `${plan.root}:${plan.root}:ro`,
    '--entrypoint',
    '/bin/sh',
    options.image,
    '-c',
    probeScript(plan.toolchains)
  ]
}

/**
 * Runs every known toolchain's version command once inside the image (one short container, about
 * half a second) and returns those that failed. A probe that cannot run at all is not a reason to
 * drop the tools: it says so and reports nothing broken.
 */
export async function probeToolchains(
  plan: ToolCachePlan & { root: string },
  options: ProbeOptions,
  warn: (message: string) => void
): Promise<ProbeResult[]> {
  if (!plan.toolchains.some(toolchain => versionCommand(toolchain.tool))) return []
  const timer = setTimeout(() => {
    void docker(['rm', '--force', options.name])
  }, options.timeoutMs ?? 60_000)
  try {
    const result = await docker(probeRunArgs(plan, options))
    const results = parseProbeOutput(result.stdout, plan.toolchains)
    if (result.exitCode !== 0 && results.length === 0) {
      warn(
        `Could not check the tool cache's tools in the image (docker exited with ${result.exitCode}: ${result.stderr.trim().split('\n').slice(-1)[0] ?? ''}); they stay on the PATH unchecked`
      )
      return []
    }
    return results.filter(probe => probe.exitCode !== 0)
  } catch (error: unknown) {
    warn(`Could not check the tool cache's tools in the image: ${errorMessage(error)}`)
    return []
  } finally {
    clearTimeout(timer)
  }
}
