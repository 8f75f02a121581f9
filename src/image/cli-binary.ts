import { randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { RUN_LABEL } from '../constants.js'
import { docker, lastLines } from '../docker.js'
import { type BuildLog, explainBuildFailure } from './build.js'

/**
 * The Claude Code CLI is a single native binary (about 380 MB, most of what an image with it
 * weighs). It is kept out of the agent image: fetched once per version, cached as its own Actions
 * cache entry and mounted read-only into the container, so a CLI version bump leaves the image's
 * cache entry valid and a warm start loads only the operating system image.
 */

/** Where the CLI is mounted inside images that ask for it (label CLI_MOUNT_LABEL). */
export const CLI_CONTAINER_PATH = '/usr/local/bin/claude'
/** The label the bundled Dockerfile sets: the image expects the CLI mounted at its value. */
export const CLI_MOUNT_LABEL = 'org.claude-sandbox-action.cli-mount'
/** The builder the CLI is installed in with npm, unless build-args BUILDER_IMAGE says otherwise. */
export const DEFAULT_BUILDER_IMAGE = 'node:22.20.0-bookworm-slim'

/** Bump when the CLI entry's key layout or content changes. */
const CLI_KEY_SCHEMA = 'v1'

export interface CliPlatform {
  os: string
  arch: string
  /** The C library the binary is built for; only glibc images are supported. */
  libc: 'glibc'
}

export function cliPlatform(env: NodeJS.ProcessEnv = process.env): CliPlatform {
  return { os: env.RUNNER_OS ?? os.platform(), arch: env.RUNNER_ARCH ?? os.arch(), libc: 'glibc' }
}

function keyPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').toLowerCase() || 'none'
}

/**
 * The CLI entry's key: everything that decides the binary's bytes and nothing else. npm checks
 * the package's integrity, so the CA bundle or the builder image that fetched it do not change it.
 */
export function cliCacheKey(version: string, platform: CliPlatform): string {
  return [
    'claude-sandbox-cli',
    CLI_KEY_SCHEMA,
    keyPart(platform.os),
    keyPart(platform.arch),
    platform.libc,
    keyPart(version)
  ].join('-')
}

/**
 * The runner's tool cache, where setup-* actions keep what they install: it keeps the binary for
 * the rest of the job (and across jobs on self-hosted runners), and its path is the same on every
 * run, which the cache entry's version depends on. Local runs use ~/.cache/claude-sandbox.
 */
export function toolCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNNER_TOOL_CACHE || path.join(os.homedir(), '.cache', 'claude-sandbox')
}

/** `<tool cache>/claude-code/<version>/<arch>/claude`, laid out as @actions/tool-cache does. */
export function cliBinaryPath(root: string, version: string, arch: string): string {
  return path.join(root, 'claude-code', version, keyPart(arch), 'claude')
}

/** The marker written once the binary is complete (a half-copied binary has none). */
export function completeMarker(binaryPath: string): string {
  return `${path.dirname(binaryPath)}.complete`
}

/** Whether a complete binary is there: the marker, and a file of plausible size. */
export async function cliBinaryPresent(binaryPath: string): Promise<boolean> {
  if (!existsSync(completeMarker(binaryPath))) return false
  try {
    return (await stat(binaryPath)).size > 1024 * 1024
  } catch {
    return false
  }
}

export async function markComplete(binaryPath: string): Promise<void> {
  await chmod(binaryPath, 0o755)
  await writeFile(completeMarker(binaryPath), '')
}

export interface FetchCliRequest {
  version: string
  builderImage: string
  /** PEM bundle npm trusts (a TLS-inspecting proxy's CA). */
  caFile?: string
  binaryPath: string
  log: BuildLog
  /** Labels the builder container with the run, so a cancelled job's post step removes it. */
  runId?: string
}

/**
 * Installs `@anthropic-ai/claude-code@version` with npm in a throw-away builder container and
 * copies the native binary out (docker cp, so it works wherever the daemon is), then checks it
 * runs. The binary is written next to its final place and renamed, so a reader never sees half
 * of it.
 */
export async function fetchCliBinary(request: FetchCliRequest): Promise<void> {
  const { version, builderImage, caFile, binaryPath, log } = request
  const name = `claude-sandbox-cli-fetch-${randomBytes(6).toString('hex')}`
  const script = [
    'set -eu',
    'if [ -s /tmp/sandbox-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/sandbox-ca.pem; fi',
    `npm install --global --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@${version}"`,
    'bin="$(readlink -f "$(npm root --global)/@anthropic-ai/claude-code/bin/claude.exe")"',
    '"$bin" --version',
    'echo "CLAUDE_BINARY=$bin"'
  ].join('\n')
  log.startGroup(`Fetching Claude Code ${version} (npm, in ${builderImage})`)
  const output: string[] = []
  try {
    const label = request.runId ? ['--label', `${RUN_LABEL}=${request.runId}`] : []
    const created = await docker([
      'create',
      '--name',
      name,
      ...label,
      builderImage,
      'sh',
      '-c',
      script
    ])
    if (created.exitCode !== 0) {
      throw explainBuildFailure(`FROM ${builderImage}\n${created.stderr}`, {
        CLAUDE_CODE_VERSION: version
      })
    }
    if (caFile) {
      const copied = await docker(['cp', caFile, `${name}:/tmp/sandbox-ca.pem`])
      if (copied.exitCode !== 0)
        throw new Error(`docker cp of the CA bundle failed: ${lastLines(copied.stderr, 1)}`)
    }
    const started = await docker(['start', '--attach', name], {
      onLine: line => {
        output.push(line)
        log.info(line)
      }
    })
    const text = output.join('\n')
    if (started.exitCode !== 0) {
      throw explainBuildFailure(text, { CLAUDE_CODE_VERSION: version })
    }
    const inside = /^CLAUDE_BINARY=(\/\S+)$/m.exec(text)?.[1]
    if (!inside) throw new Error('the builder did not say where npm put the claude binary')
    await mkdir(path.dirname(binaryPath), { recursive: true })
    const partial = `${binaryPath}.partial-${process.pid}`
    const copied = await docker(['cp', `${name}:${inside}`, partial])
    if (copied.exitCode !== 0) {
      await rm(partial, { force: true })
      throw new Error(`docker cp of the claude binary failed: ${lastLines(copied.stderr, 1)}`)
    }
    await placeCliBinary(partial, binaryPath)
    await markComplete(binaryPath)
  } finally {
    log.endGroup()
    await docker(['rm', '--force', '--volumes', name])
  }
}

/**
 * Moves a fetched binary into place. An empty directory where the binary belongs is removed
 * first: `docker run -v` of a path that does not exist yet leaves one there (a script or a
 * tool that mounted the tool cache's CLI before it was fetched), and rename refuses it.
 */
export async function placeCliBinary(partial: string, binaryPath: string): Promise<void> {
  const there = await lstat(binaryPath).catch(() => undefined)
  if (there?.isDirectory()) await rmdir(binaryPath)
  await rename(partial, binaryPath)
}
