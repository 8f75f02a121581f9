/**
 * Issue 3: the real CLI in the real hardened container, against the scripted fake Messages API
 * through the host-side credential gateway, driven through dist/ by the runner contract.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SECRET_API_KEY, leftoverContainers, runScenario, workingTreeId } from '../helpers/e2e.js'

const RUNNER_SECRETS = {
  GITHUB_TOKEN: 'ghs_SECRETgithubTokenForE2E0123456789',
  ACTIONS_RUNTIME_TOKEN: 'SECRET-actions-runtime-token-e2e',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'SECRET-id-token-request-e2e',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:9/SECRET-id-token-url'
}
const ALL_SECRETS = [SECRET_API_KEY, ...Object.values(RUNNER_SECRETS)]

function bash(command: string, extra: Record<string, unknown> = {}) {
  return { name: 'Bash', input: { command, description: 'step', ...extra } }
}

describe('the agent in the sandbox', () => {
  it('turns Write, Edit and Bash into a patch that reproduces the tree exactly', async () => {
    const { run, repo, api } = await runScenario(
      [
        {
          tools: [
            {
              name: 'Write',
              input: {
                file_path: '/workspace/docs/new.md',
                content: '# New\n\nWritten by the agent.\n'
              }
            },
            { name: 'Read', input: { file_path: '/workspace/src/app.py' } }
          ]
        },
        {
          tools: [
            {
              name: 'Edit',
              input: {
                file_path: '/workspace/src/app.py',
                old_string: 'return a - b',
                new_string: 'return a + b'
              }
            }
          ]
        },
        {
          tools: [
            bash(
              'cd /workspace && head -c 4096 /dev/urandom > data.bin && printf "\\0\\1\\2" >> data.bin' +
                ' && git rm -q --cached old.txt 2>/dev/null; rm old.txt && chmod +x run.sh' +
                ' && ln -s docs/new.md latest.md && mkdir -p "with space" && echo ü > "with space/é.txt"'
            )
          ]
        },
        { text: 'Done: wrote, edited, and changed files with Bash.' }
      ],
      {
        repo: (await import('../helpers/e2e.js')).makeRepo({
          'old.txt': 'to be deleted\n',
          'run.sh': '#!/bin/sh\necho run\n'
        })
      }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    expect(run.outputs['has-changes']).toBe('true')
    expect(Number(run.outputs['changed-files'])).toBe(7)
    expect(run.outputs['final-message']).toBe('Done: wrote, edited, and changed files with Bash.')
    expect(Number(run.outputs['num-turns'])).toBeGreaterThanOrEqual(4)
    expect(Number(run.outputs['output-tokens'])).toBeGreaterThan(0)
    expect(run.outputs['session-id']).toMatch(/[0-9a-f-]{36}/)

    const patchPath = run.outputs['patch-path'] ?? ''
    const patch = readFileSync(patchPath, 'utf8')
    expect(patch).toContain('GIT binary patch')
    expect(patch).toMatch(/new file mode 120000/)
    expect(patch).toMatch(/old mode 100644\nnew mode 100755/)
    expect(patch).toMatch(/deleted file mode 100644/)

    const fresh = mkdtempSync(path.join(os.tmpdir(), 'e2e-apply-'))
    execFileSync('git', ['clone', '-q', repo, fresh])
    execFileSync('git', ['apply', '--binary', patchPath], { cwd: fresh })
    expect(workingTreeId(fresh)).toBe(workingTreeId(repo))
    // The transcript is stream-json, one object a line, ending with the result.
    const lines = readFileSync(run.outputs['execution-file'] ?? '', 'utf8')
      .trim()
      .split('\n')
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ type: 'system', subtype: 'init' })
    expect(JSON.parse(lines[lines.length - 1] ?? '{}')).toMatchObject({
      type: 'result',
      subtype: 'success'
    })
    expect(run.summary).toMatch(/Claude Sandbox: success/)
    expect(run.stdout).toMatch(/🔧 Edit: \/workspace\/src\/app.py/)
    // The CLI read the repository with git for its own context (the branch, the status, recent
    // commits): .git is the runner's, read-only, and git must still trust it for our uid.
    const firstMain = JSON.stringify(api.mainRequests()[0]?.body ?? '')
    const gitContext = /# gitStatus.*?Recent commits:(?:\\n[^\\]*)*/.exec(firstMain)?.[0]
    // Without that the CLI still names the branch (read from HEAD) but says `Status:
    // (unavailable)` and lists no commits.
    expect(gitContext).toMatch(/Current branch: main/)
    expect(gitContext).not.toMatch(/\(unavailable\)/)
    expect(gitContext).toMatch(/Recent commits:\\n[0-9a-f]{7,} /)
    // The working tree is given back to the runner's user.
    expect(readdirSync(repo)).toContain('data.bin')
    expect(leftoverContainers()).toEqual([])
  })

  it('holds against a hostile agent: no secret inside, no privilege, no writes outside /workspace', async () => {
    const probe = [
      'cd /workspace && mkdir -p evidence',
      'id -u > evidence/uid',
      "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status > evidence/status",
      'env > evidence/env',
      'for f in /proc/[0-9]*/environ; do echo "== $f"; tr "\\0" "\\n" < "$f" 2>&1; done > evidence/proc-environ 2>&1',
      'for t in /etc/pwned /usr/pwned /workspace/.git/hooks/pre-commit /workspace/.git/config /run/sandbox/pwned /pwned; do if (echo pwned >> "$t") 2>/dev/null; then echo "WROTE $t"; else echo "FAILED $t"; fi; done > evidence/writes',
      'p=do-not; grep -rIsl -F "$p-leak" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=workspace > evidence/grep 2>/dev/null; true',
      'ls -la /run/sandbox > evidence/sandbox-dir 2>&1; true'
    ].join('; ')
    const { run, api, repo } = await runScenario(
      [{ tools: [bash(probe)] }, { text: 'Recorded.' }],
      {
        env: RUNNER_SECRETS,
        inputs: { env: 'VISIBLE_SETTING=from-the-env-input' }
      }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const evidence = (name: string) => readFileSync(path.join(repo, 'evidence', name), 'utf8')

    expect(evidence('uid').trim()).not.toBe('0')
    const status = evidence('status')
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      expect(status).toMatch(new RegExp(`${set}:\\s+0000000000000000`))
    }
    expect(status).toMatch(/NoNewPrivs:\s+1/)
    const writes = evidence('writes').trim().split('\n')
    expect(writes).toHaveLength(6)
    for (const line of writes) expect(line).toMatch(/^FAILED /)
    expect(evidence('grep').trim()).toBe('')

    // The environment is the allow-list: the placeholder key, the env input, nothing of the runner.
    const env = evidence('env')
    expect(env).toMatch(/^ANTHROPIC_API_KEY=sk-ant-sandbox-placeholder/m)
    expect(env).toMatch(/^VISIBLE_SETTING=from-the-env-input$/m)
    expect(env).not.toMatch(/^(GITHUB_|ACTIONS_|INPUT_|RUNNER_)/m)
    expect(evidence('proc-environ')).toContain('== /proc/')

    // No secret anywhere: the container's evidence, the transcript, the patch, the outputs.
    const everything = [
      ...readdirSync(path.join(repo, 'evidence')).map(evidence),
      readFileSync(run.outputs['execution-file'] ?? '', 'utf8'),
      readFileSync(run.outputs['patch-path'] ?? '', 'utf8'),
      JSON.stringify(run.outputs),
      run.summary
    ].join('\n')
    for (const secret of ALL_SECRETS) expect(everything).not.toContain(secret)

    // The upstream saw the real key on every request; never the placeholder.
    expect(api.requests.length).toBeGreaterThanOrEqual(2)
    for (const request of api.requests) {
      expect(request.headers['x-api-key']).toBe(SECRET_API_KEY)
      expect(JSON.stringify(request.headers)).not.toContain('sk-ant-sandbox-placeholder')
    }
    // .git was read-only for the agent: nothing planted for host git to run.
    expect(existsSync(path.join(repo, '.git', 'hooks', 'pre-commit'))).toBe(false)
    expect(readFileSync(path.join(repo, '.git', 'config'), 'utf8')).not.toContain('pwned')
    expect(leftoverContainers()).toEqual([])
  })
})

describe('an OAuth token instead of an API key', () => {
  it('stays on the host: the CLI gets an OAuth placeholder, the upstream the real bearer token', async () => {
    const token = 'sk-ant-oat01-SECRET-oauth-token-e2e-0123456789'
    const { run, api, repo } = await runScenario(
      // PID 1 (docker's init) holds the container's environment as the action gave it; the CLI
      // scrubs the token from its tools' own environment.
      [
        { tools: [bash('tr "\\0" "\\n" < /proc/1/environ | sort > /workspace/oauth-env.txt')] },
        { text: 'ok' }
      ],
      { inputs: { 'anthropic-api-key': '', 'claude-code-oauth-token': token } }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    const env = readFileSync(path.join(repo, 'oauth-env.txt'), 'utf8')
    expect(env).toMatch(/^CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat-sandbox-placeholder/m)
    expect(env).not.toMatch(/^ANTHROPIC_API_KEY=/m)
    expect(env).not.toContain(token)
    expect(api.requests.length).toBeGreaterThanOrEqual(2)
    for (const request of api.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${token}`)
      expect(request.headers['x-api-key']).toBeUndefined()
      expect(String(request.headers['anthropic-beta'])).toContain('oauth-2025-04-20')
    }
  })
})

describe('how runs end', () => {
  const partialThenSleep = [
    {
      tools: [
        {
          name: 'Write',
          input: { file_path: '/workspace/partial.txt', content: 'work in progress\n' }
        }
      ]
    },
    // A long-running command (the CLI refuses a bare `sleep`).
    { tools: [bash('python3 -c "import time; time.sleep(600)"', { timeout: 600000 })] },
    { text: 'never reached' }
  ]

  it('a timeout stops the container, keeps the partial patch and says so', async () => {
    const started = Date.now()
    const { run, post } = await runScenario(partialThenSleep, {
      inputs: { 'timeout-minutes': '0.3' }
    })
    expect(Date.now() - started).toBeLessThan(90_000)
    expect(run.outputs.conclusion).toBe('timeout')
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/timeout-minutes \(0\.3\).*partial work kept/)
    expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('+work in progress')
    expect(readFileSync(run.outputs['execution-file'] ?? '', 'utf8')).toContain('"Write"')
    expect(post.exitCode).toBe(0)
    expect(leftoverContainers()).toEqual([])
  })

  it('cancellation (SIGTERM to the action) stops the agent and keeps its work', async () => {
    const { run } = await runScenario(partialThenSleep, {
      during: (child, api) => {
        // Signal once the agent is in its second turn (the sleep), bounded in time.
        const deadline = Date.now() + 120_000
        const timer = setInterval(() => {
          if (api.mainRequests().length >= 2 || Date.now() > deadline) {
            clearInterval(timer)
            setTimeout(() => child.kill('SIGTERM'), 1500)
          }
        }, 200)
      }
    })
    expect(run.outputs.conclusion).toBe('cancelled')
    expect(run.exitCode).toBe(1)
    expect(run.errors[0]).toMatch(/cancelled/)
    expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('+work in progress')
    expect(leftoverContainers()).toEqual([])
  })

  it('a memory hog ends as a failure naming the memory limit', async () => {
    const { run } = await runScenario(
      [
        {
          tools: [
            { name: 'Write', input: { file_path: '/workspace/before-oom.txt', content: 'kept\n' } }
          ]
        },
        { tools: [bash('python3 -c "b = bytearray(2 * 1024**3); print(len(b))"')] },
        { text: 'The allocation failed.' }
      ],
      { inputs: { memory: '512m' } }
    )
    expect(run.outputs.conclusion).toBe('failure')
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/ran out of memory \(limit memory: 512m\).*Raise `memory`/)
    expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('before-oom.txt')
    expect(leftoverContainers()).toEqual([])
  })

  it('a fork bomb is contained by the pids limit and the run still ends cleanly', async () => {
    const started = Date.now()
    const { run } = await runScenario(
      [
        {
          tools: [
            { name: 'Write', input: { file_path: '/workspace/before-bomb.txt', content: 'kept\n' } }
          ]
        },
        {
          tools: [
            bash('bomb() { bomb | bomb & }; bomb; sleep 5; echo survived', { timeout: 20000 })
          ]
        },
        { text: 'The fork bomb hit the process limit.' }
      ],
      { inputs: { 'pids-limit': '128', 'timeout-minutes': '1' } }
    )
    expect(Date.now() - started).toBeLessThan(150_000)
    expect(['success', 'failure', 'timeout']).toContain(run.outputs.conclusion)
    if (run.outputs.conclusion !== 'success')
      expect(run.errors[0]).toMatch(/pids-limit 128|timeout-minutes/)
    expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('before-bomb.txt')
    expect(leftoverContainers()).toEqual([])
  })

  it.each([
    [401, 'authentication_error', 'invalid x-api-key'],
    [529, 'overloaded_error', 'Overloaded']
  ])('an API error %i ends as a failure with the API message', async (status, type, message) => {
    const { run } = await runScenario([{ error: { status, type, message }, repeat: 20 }], {
      // Bounds the CLI's own retries so the test is quick; users keep the CLI's default.
      inputs: { env: 'CLAUDE_CODE_MAX_RETRIES=0' }
    })
    expect(run.outputs.conclusion).toBe('failure')
    expect(run.errors).toHaveLength(1)
    // An upstream 401 is the gateway's credentials, not the agent's doing: said so (issue 21).
    expect(run.errors[0]).toMatch(
      status === 401 ? /credentials problem, not the agent/ : /API error/
    )
    expect(run.errors[0]).toMatch(status === 401 ? /API key|401|invalid/i : /529|Overloaded/i)
    expect(existsSync(run.outputs['execution-file'] ?? '')).toBe(true)
    expect(run.outputs['has-changes']).toBe('false')
    expect(leftoverContainers()).toEqual([])
  })
})
