/**
 * npm run demo: the action's main job on a sample repository, end to end, with no API key.
 *
 * Creates a small repository with a bug, starts a local stand-in for the Messages API that
 * scripts the agent's turns (run the tests, read the file, fix it, rerun the tests), and runs the
 * bundled claude-sandbox CLI — the same pipeline as the action: image build, credential gateway,
 * egress proxy, the real Claude Code CLI in the hardened container, patch, job summary.
 * Its output ends with the job summary and the diff, as the CLI prints them.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startFakeAnthropic, type Turn } from '../__tests__/servers/fake-anthropic.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function sampleRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'claude-sandbox-demo-'))
  const files: Record<string, string> = {
    'README.md': '# calc\n\nA tiny calculator.\n',
    '.gitignore': '__pycache__/\n',
    'src/calc.py': 'def add(a, b):\n    """Return the sum of a and b."""\n    return a - b\n',
    'tests/test_calc.py':
      'import sys, unittest\nsys.path.insert(0, "src")\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n\nif __name__ == "__main__":\n    unittest.main()\n'
  }
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), content)
  }
  const git = (...args: string[]) =>
    spawnSync('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.com', ...args], {
      cwd: dir
    })
  git('init', '-q', '-b', 'main')
  git('add', '-A')
  git('commit', '-q', '-m', 'calc with a bug')
  return dir
}

function imageExists(ref: string): boolean {
  return spawnSync('docker', ['image', 'inspect', ref], { stdio: 'ignore' }).status === 0
}

async function main(): Promise<number> {
  const repo = sampleRepository()
  const turns: Turn[] = [
    {
      text: 'Let me run the tests and look at the code.',
      tools: [
        {
          name: 'Bash',
          input: {
            command: 'cd /workspace && python3 tests/test_calc.py 2>&1 | tail -4',
            description: 'Run the tests'
          }
        },
        { name: 'Read', input: { file_path: '/workspace/src/calc.py' } }
      ]
    },
    {
      text: 'add() subtracts. Fixing it.',
      tools: [
        {
          name: 'Edit',
          input: {
            file_path: '/workspace/src/calc.py',
            old_string: 'return a - b',
            new_string: 'return a + b'
          }
        }
      ]
    },
    {
      tools: [
        {
          name: 'Bash',
          input: {
            command: 'cd /workspace && python3 tests/test_calc.py 2>&1 | tail -2',
            description: 'Rerun the tests'
          }
        }
      ]
    },
    { text: 'Fixed `add()` in src/calc.py: it returned `a - b`. The test suite passes now.' }
  ]
  const api = await startFakeAnthropic({ turns })
  const args = [
    path.join(root, 'dist', 'cli', 'index.js'),
    '--repo',
    repo,
    '--prompt',
    'The unit tests fail. Find the bug and fix it.',
    '--anthropic-base-url',
    api.url,
    '--timeout-minutes',
    '10'
  ]
  // Hosts with no registry (like this project's CI) use the bases from build-local-bases.sh.
  if (
    imageExists('claude-sandbox/debian:bookworm-slim') &&
    imageExists('claude-sandbox/node:bookworm-slim')
  ) {
    args.push(
      '--build-arg',
      'BASE_IMAGE=claude-sandbox/debian:bookworm-slim',
      '--build-arg',
      'BUILDER_IMAGE=claude-sandbox/node:bookworm-slim'
    )
  }
  // Behind a TLS-inspecting proxy, npm in the image build needs its CA.
  const ca = [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE].find(
    file => file && existsSync(file)
  )
  if (ca) args.push('--ca-certificates', ca)

  console.log(
    `Sample repository: ${repo}\nScripted model API: ${api.url} (${turns.length} scripted turns; no API key needed)\n`
  )
  const code = await new Promise<number>(resolve => {
    const child = spawn(process.execPath, args, {
      stdio: 'inherit',
      env: { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-demo-key-stays-on-the-host' }
    })
    child.on('close', c => resolve(c ?? 1))
  })
  await api.close()
  // The CLI's last words are the summary and the diff; a run that never asked the model is not a demo.
  if (code === 0 && api.mainRequests().length < turns.length) {
    console.error(`demo: the model was asked ${api.mainRequests().length} of ${turns.length} turns`)
    return 1
  }
  return code
}

main().then(
  code => process.exit(code),
  (error: unknown) => {
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
