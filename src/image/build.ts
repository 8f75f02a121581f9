import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ConfigurationError } from '../errors.js'
import { docker, lastLines } from '../docker.js'

/** Everything one image build needs, already validated. */
export interface BuildRequest {
  dockerfile: string
  context: string
  tag: string
  buildArgs: Record<string, string>
  iidFile: string
  /** CA bundle handed to buildx as a secret (custom Dockerfiles); the bundled one copies it. */
  caSecretFile?: string
  /** Labels added on top of the Dockerfile's (the base the image was built on). */
  labels?: Record<string, string>
}

export interface BuildLog {
  info(message: string): void
  warning(message: string): void
  /** A notice annotation (main.ts passes core.notice); info when absent. */
  notice?(message: string): void
  startGroup(name: string): void
  endGroup(): void
}

/** `docker buildx build` arguments; the image id is read from --iidfile, not parsed from output. */
export function buildxArgs(request: BuildRequest): string[] {
  const args = ['buildx', 'build', '--load', '--progress=plain', '--iidfile', request.iidFile]
  args.push('--file', request.dockerfile, '--tag', request.tag)
  for (const [key, value] of Object.entries(request.buildArgs))
    args.push('--build-arg', `${key}=${value}`)
  if (request.caSecretFile) args.push('--secret', `id=ca-certificates,src=${request.caSecretFile}`)
  args.push(...labelArgs(request))
  args.push(request.context)
  return args
}

/** Classic builder arguments (run with DOCKER_BUILDKIT=0): no secrets, no --load. */
export function classicBuildArgs(request: BuildRequest): string[] {
  const args = [
    'build',
    // A failed step's container is removed too (the classic builder keeps it by default).
    '--force-rm',
    '--iidfile',
    request.iidFile,
    '--file',
    request.dockerfile,
    '--tag',
    request.tag
  ]
  for (const [key, value] of Object.entries(request.buildArgs))
    args.push('--build-arg', `${key}=${value}`)
  args.push(...labelArgs(request))
  args.push(request.context)
  return args
}

function labelArgs(request: BuildRequest): string[] {
  return Object.entries(request.labels ?? {}).flatMap(([key, value]) => [
    '--label',
    `${key}=${value}`
  ])
}

export async function hasBuildx(): Promise<boolean> {
  return (await docker(['buildx', 'version'])).exitCode === 0
}

/**
 * The bundled Dockerfile's context: a private copy of docker/ with the entrypoint made executable
 * (the classic builder has no COPY --chmod). No CA material: the image's build does not use it
 * (npm runs only where the CLI is fetched, see cli-binary.ts).
 */
export function prepareBundledContext(dockerDir: string, runDir: string): string {
  const context = mkdtempSync(path.join(runDir, 'context-'))
  for (const name of ['Dockerfile.agent', 'agent-entrypoint.sh', '.dockerignore']) {
    const source = path.join(dockerDir, name)
    if (existsSync(source)) copyFileSync(source, path.join(context, name))
  }
  chmodSync(path.join(context, 'agent-entrypoint.sh'), 0o755)
  return context
}

/** Turns a failed build's output into the clearest message we can give. */
export function explainBuildFailure(output: string, buildArgs: Record<string, string>): Error {
  const version = buildArgs.CLAUDE_CODE_VERSION
  // Anchored at a line's start (after the classic builder's colour code for stderr, or buildx's
  // `#8 0.12 ` prefix): the classic builder also echoes the RUN command, which holds the same words.
  const unsupported =
    // eslint-disable-next-line no-control-regex
    /^(?:\x1b\[[0-9;]*m)*(?:#\d+ [\d.]+ )?claude-sandbox: unsupported base image: ([^\n\x1b]*)/m.exec(
      output
    )
  if (unsupported) {
    return new ConfigurationError(
      `The base image ${buildArgs.BASE_IMAGE ?? ''} is not supported: ${unsupported[1]?.trim() ?? ''}`.replace(
        '  ',
        ' '
      ),
      'Use a Debian or Ubuntu based image for `base-image` (Alpine and other distributions are not supported), or a prebuilt `image` that has everything'
    )
  }
  if (/No matching version found for @anthropic-ai\/claude-code@|ETARGET/.test(output)) {
    return new ConfigurationError(
      `claude-code-version ${version ?? ''} does not exist in the npm registry`.replace('  ', ' '),
      'Set `claude-code-version` to a published version (npm view @anthropic-ai/claude-code versions)'
    )
  }
  if (
    /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|unable to get local issuer certificate/.test(
      output
    )
  ) {
    return new ConfigurationError(
      'The image build could not verify TLS certificates (a TLS-inspecting proxy?)',
      "Pass your proxy's CA bundle with the `ca-certificates` input"
    )
  }
  if (
    /pull access denied|failed to resolve source metadata|manifest unknown|not found: manifest|dial tcp|no such host/.test(
      output
    ) &&
    /FROM|pull|resolve/i.test(output)
  ) {
    return new ConfigurationError(
      `The image build could not get a base image (${lastLines(output, 1)})`,
      'Check BASE_IMAGE / BUILDER_IMAGE in `build-args`, or give a prebuilt `image`'
    )
  }
  return new Error(`docker build failed with: ${lastLines(output, 3)}`)
}

/**
 * Builds with buildx where present (GitHub-hosted runners) and with the classic builder
 * otherwise, warning that it is slower and has no build secrets. Returns the image id.
 */
export async function buildImage(request: BuildRequest, log: BuildLog): Promise<string> {
  const buildx = await hasBuildx()
  if (!buildx) {
    log.warning(
      'docker buildx is not installed: building with the classic builder (DOCKER_BUILDKIT=0), which is slower and has no build secrets. Install the buildx plugin for faster builds.'
    )
  }
  const args = buildx ? buildxArgs(request) : classicBuildArgs(request)
  const env = buildx ? process.env : { ...process.env, DOCKER_BUILDKIT: '0' }
  log.startGroup(`Building the agent image ${request.tag}`)
  let result
  try {
    result = await docker(args, { env, onLine: line => log.info(line) })
  } finally {
    log.endGroup()
  }
  if (result.exitCode !== 0) {
    throw explainBuildFailure(`${result.stdout}\n${result.stderr}`, request.buildArgs)
  }
  const id = existsSync(request.iidFile) ? readFileSync(request.iidFile, 'utf8').trim() : ''
  if (!id) throw new Error('docker build succeeded but wrote no image id (--iidfile)')
  return id
}
