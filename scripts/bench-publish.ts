/**
 * Benchmark: publish a 2,000-file / ~20 MB change in pull-request mode to the local fake GitHub
 * and print the wall time and peak memory against the targets (30 s, 300 MB).
 *
 *   npx tsx scripts/bench-publish.ts [--in-process] [--no-checkout] [--binary N] [--files N] [--kb N]
 *
 * By default the fake server runs in a child process, so the memory measured is the publisher's
 * alone (the server holds GitHub's 13 MB OpenAPI description and every uploaded object). The
 * client runs with production settings, including GitHub's requested spacing of one second
 * between writes. --no-checkout publishes from an empty directory, as the reusable workflow's
 * publish job does (the touched files are then read from the server). Exits 1 when a target is
 * missed or the published tree is wrong.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createGit } from '../src/git/git.js'
import { createPatch } from '../src/git/patch.js'
import { createGitHubClient } from '../src/github/client.js'
import type { PublishContext } from '../src/github/context.js'
import { publish } from '../src/github/publish.js'
import { announceQuick, failUnless, sized, verdict } from './bench-mode.js'

const TARGET_SECONDS = 30
const TARGET_MB = 300
const REPO = 'octo/bench'
const TOKEN = 'bench-token'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const FILES = option('files', sized(2000, 100))
const KB = option('kb', 10.5)
const BINARY = option('binary', 0)
const IN_PROCESS = process.argv.includes('--in-process')
const NO_CHECKOUT = process.argv.includes('--no-checkout')

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(
    ' '
  )

function textFile(seed: number, bytes: number): string {
  const lines: string[] = []
  let size = 0
  for (let n = 0; size < bytes; n++) {
    const line = `${n} ${WORDS[(seed + n) % WORDS.length]} ${(seed * 7919 + n * 104729).toString(36)} ${'x'.repeat(40)}`
    lines.push(line)
    size += line.length + 1
  }
  return `${lines.join('\n')}\n`
}

interface Server {
  url: string
  heads: Record<string, string>
  report: () => Promise<{ validationFailures: unknown[]; requests: unknown[] }>
  stop: () => Promise<void>
}

async function startServer(repoDir: string): Promise<Server> {
  if (IN_PROCESS) {
    const { FakeGitHub, WRITE_ALL } = await import('../__tests__/servers/fake-github.js')
    const fake = await FakeGitHub.start()
    fake.addRepo(REPO, { defaultBranch: 'main' })
    fake.addToken(TOKEN, WRITE_ALL)
    const heads = await fake.seedFromGit(REPO, repoDir, { main: 'HEAD' })
    return {
      url: fake.url,
      heads,
      report: async () => ({
        validationFailures: fake.validationFailures,
        requests: fake.requests
      }),
      stop: () => fake.stop()
    }
  }
  const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      tsx,
      path.join(ROOT, '__tests__', 'servers', 'fake-github.ts'),
      '--repo',
      REPO,
      '--seed',
      repoDir,
      '--token',
      TOKEN
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    lines.once('line', resolve)
    child.once('exit', code => reject(new Error(`fake GitHub exited (${code})`)))
  })
  const { url, heads } = JSON.parse(first) as { url: string; heads: Record<string, string> }
  return {
    url,
    heads,
    report: async () =>
      (await (await fetch(`${url}/_fake/report`)).json()) as {
        validationFailures: unknown[]
        requests: unknown[]
      },
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}

async function main(): Promise<void> {
  announceQuick('bench-publish')
  const root = await mkdtemp(path.join(tmpdir(), 'bench-publish-'))
  const dir = path.join(root, 'repo')
  await mkdir(dir)
  const git = createGit(dir)
  const modified = Math.round(FILES * 0.225)
  const deleted = Math.round(FILES * 0.025)
  const added = FILES - modified - deleted
  const bytes = Math.round(KB * 1024)
  console.log(
    `Building a change of ${FILES} files (${added} added, ${modified} modified, ${deleted} deleted, ${BINARY} of the added binary), ~${KB} KB each`
  )
  await git.run(['init', '-q', '-b', 'main'])
  for (let i = 0; i < modified + deleted; i++) {
    const file = path.join(dir, 'src', `m${i % 50}`, `old-${i}.txt`)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, textFile(i, bytes))
  }
  await git.run(['add', '-A'])
  await git.run([
    '-c',
    'user.name=Bench',
    '-c',
    'user.email=bench@example.com',
    'commit',
    '-q',
    '-m',
    'base'
  ])
  for (let i = 0; i < modified; i++) {
    await writeFile(
      path.join(dir, 'src', `m${i % 50}`, `old-${i}.txt`),
      textFile(i + 1_000_000, bytes)
    )
  }
  for (let i = modified; i < modified + deleted; i++)
    await rm(path.join(dir, 'src', `m${i % 50}`, `old-${i}.txt`))
  for (let i = 0; i < added; i++) {
    const file = path.join(dir, 'gen', `d${i % 80}`, i < BINARY ? `blob-${i}.bin` : `new-${i}.txt`)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, i < BINARY ? randomBytes(bytes) : textFile(i + 2_000_000, bytes))
  }
  const patchPath = path.join(root, 'claude.patch')
  const patchStart = Date.now()
  const patch = await createPatch(dir, patchPath)
  const contentBytes = patch.files.reduce((sum, f) => sum + (f.size ?? 0), 0)
  console.log(
    `createPatch: ${patch.files.length} files, ${(contentBytes / 1e6).toFixed(1)} MB of new content, in ${((Date.now() - patchStart) / 1000).toFixed(1)} s (not counted)`
  )

  const server = await startServer(dir)
  const context: PublishContext = {
    owner: 'octo',
    repo: 'bench',
    eventName: 'schedule',
    payload: { repository: { default_branch: 'main' } },
    workflow: 'Bench',
    job: 'publish',
    runId: '1',
    serverUrl: 'https://github.example',
    apiUrl: server.url,
    ref: 'refs/heads/main',
    sha: server.heads.main as string
  }

  const before = process.memoryUsage()
  console.log(
    `Before publishing: rss ${(before.rss / 1e6).toFixed(0)} MB, heap ${(before.heapUsed / 1e6).toFixed(0)} MB, external ${(before.external / 1e6).toFixed(0)} MB`
  )
  let peakRss = before.rss
  let peakHeap = 0
  let peakExternal = 0
  const sampler = setInterval(() => {
    const now = process.memoryUsage()
    peakRss = Math.max(peakRss, now.rss)
    peakHeap = Math.max(peakHeap, now.heapTotal)
    peakExternal = Math.max(peakExternal, now.external)
  }, 25)
  const start = process.hrtime.bigint()
  const workspace = NO_CHECKOUT ? path.join(root, 'empty') : dir
  await mkdir(workspace, { recursive: true })
  const result = await publish({
    mode: 'pull-request',
    workspace,
    patchPath,
    report: { conclusion: 'success', finalMessage: 'Benchmark change.' },
    settings: {
      githubToken: TOKEN,
      prLabels: ['bench'],
      prDraft: false,
      protectedPaths: ['.github/workflows/**']
    },
    context,
    log: { info: m => console.log(`  ${m}`), warning: m => console.log(`  warning: ${m}`) }
  })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  clearInterval(sampler)
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  const maxRssMb = process.resourceUsage().maxRSS / 1024

  // Check the result through the API: the published tree is the one git computed locally.
  const client = createGitHubClient({ token: TOKEN, baseUrl: server.url })
  const commit = await client.rest.git.getCommit({
    owner: 'octo',
    repo: 'bench',
    commit_sha: result.commitSha as string
  })
  const report = await server.report()
  await server.stop()
  await rm(root, { recursive: true, force: true })

  const treeOk = commit.data.tree.sha === patch.tree
  const timeOk = seconds <= TARGET_SECONDS
  const peakMb = peakRss / 1e6
  const memOk = peakMb <= TARGET_MB
  console.log(`\n${result.message}`)
  console.log(
    `API requests: ${report.requests.length}; schema validation failures: ${report.validationFailures.length}`
  )
  console.log(
    `Published tree matches the local tree: ${treeOk ? 'yes' : `NO (${commit.data.tree.sha} vs ${patch.tree})`}`
  )
  console.log(
    `Fake GitHub: ${IN_PROCESS ? 'in this process (its memory is included)' : 'separate process (not included)'}`
  )
  console.log(
    `Wall time:  ${seconds.toFixed(1)} s   (target ${TARGET_SECONDS} s)  ${verdict(timeOk)}`
  )
  console.log(
    `Peak RSS while publishing: ${peakMb.toFixed(0)} MB   (target ${TARGET_MB} MB)  ${verdict(memOk)}`
  )
  console.log(
    `  of which JS heap ${(peakHeap / 1e6).toFixed(0)} MB, buffers ${(peakExternal / 1e6).toFixed(0)} MB at their peaks; ${(before.rss / 1e6).toFixed(0)} MB before publishing (Node, tsx, modules)`
  )
  console.log(`maxRSS of the whole process (incl. building the change): ${maxRssMb.toFixed(0)} MB`)
  // A wrong tree or a refused request body fails even the quick run: those are not figures.
  if (!treeOk || report.validationFailures.length > 0) process.exitCode = 1
  failUnless(timeOk && memOk)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
