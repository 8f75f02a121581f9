/**
 * Fetches the Claude Code binary with the runner's own npm, without installing anything and
 * without running any of the package's code on the runner: `npm pack` of the platform package
 * (`@anthropic-ai/claude-code-linux-x64`, which holds only the `claude` binary; the main package's
 * install script merely copies it), verified by npm against the registry's integrity digest,
 * then the one file unpacked. Measured here: 6 s where npm in the builder container took 24 s.
 * The streamed fetch (cli-fetch-stream.ts) comes first; this is its fallback.
 * npm gets a scrubbed environment (no INPUT_* and no other secrets of the step), so nothing it
 * runs could read them. Used when the runner has npm and `build-args` names no BUILDER_IMAGE;
 * otherwise the CLI is fetched in the builder container (cli-binary.ts).
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { markComplete, placeCliBinary } from './cli-binary.js'

/** The platform package that holds the binary: glibc only, like the images we support. */
export function cliPlatformPackage(arch: string, version: string): string | undefined {
  const cpu = arch.toLowerCase()
  const name = cpu === 'x64' ? 'x64' : cpu === 'arm64' ? 'arm64' : undefined
  return name ? `@anthropic-ai/claude-code-linux-${name}@${version}` : undefined
}

/** What npm and tar see of the environment: where to find things, proxies, npm's own settings. */
export function scrubbedEnv(env: NodeJS.ProcessEnv, caFile?: string): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (
      ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS'].includes(name) ||
      /^(https?_proxy|no_proxy|all_proxy)$/i.test(name) ||
      /^npm_config_/i.test(name)
    )
      kept[name] = value
  }
  if (caFile) kept.NODE_EXTRA_CA_CERTS = caFile
  return kept
}

function runTool(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }
): Promise<{ code: number; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000)
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.on('error', error => {
      clearTimeout(timer)
      resolve({ code: -1, stderr: error.message })
    })
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stderr })
    })
  })
}

/**
 * Fetches the binary for `arch` into `binaryPath` (written beside it and renamed, then marked
 * complete). Returns undefined on success, or why it failed (the caller then uses the builder
 * container, which also explains a version that does not exist).
 */
export async function fetchCliOnHost(request: {
  version: string
  arch: string
  caFile?: string
  binaryPath: string
}): Promise<string | undefined> {
  const spec = cliPlatformPackage(request.arch, request.version)
  if (!spec) return `no Claude Code package for ${request.arch}`
  const work = await mkdtemp(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'claude-cli-'))
  const env = scrubbedEnv(process.env, request.caFile)
  try {
    // A cache of its own: nothing of this lands in the runner's npm cache.
    const packed = await runTool(
      'npm',
      ['pack', '--cache', path.join(work, 'npm-cache'), '--loglevel=error', spec],
      { cwd: work, env, timeoutMs: 10 * 60_000 }
    )
    if (packed.code !== 0)
      return `npm pack ${spec} failed: ${packed.stderr.trim().split('\n').pop() ?? ''}`
    const tarball = (await readdir(work)).find(name => name.endsWith('.tgz'))
    if (!tarball) return `npm pack ${spec} wrote no tarball`
    const unpacked = await runTool('tar', ['-xzf', tarball, 'package/claude'], {
      cwd: work,
      env,
      timeoutMs: 5 * 60_000
    })
    if (unpacked.code !== 0) return `the package ${spec} holds no claude binary`
    return await placeUnpackedBinary(work, spec, request.binaryPath)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * Moves the `package/claude` an unpacked platform package left in `work` to `binaryPath`
 * (beside it first, then renamed, then marked complete). Returns why not when it is missing.
 */
export async function placeUnpackedBinary(
  work: string,
  spec: string,
  binaryPath: string
): Promise<string | undefined> {
  const binary = path.join(work, 'package', 'claude')
  const size = (await stat(binary).catch(() => undefined))?.size
  if (!size || size < 1024 * 1024) return `the package ${spec} holds no claude binary`
  await mkdir(path.dirname(binaryPath), { recursive: true })
  const partial = `${binaryPath}.partial-${process.pid}`
  await rm(partial, { force: true })
  // Same filesystem in the usual layout (RUNNER_TEMP, tool cache); a copy otherwise.
  await rename(binary, partial).catch(async () => {
    const { copyFile } = await import('node:fs/promises')
    await copyFile(binary, partial)
  })
  await placeCliBinary(partial, binaryPath)
  await markComplete(binaryPath)
  return undefined
}
