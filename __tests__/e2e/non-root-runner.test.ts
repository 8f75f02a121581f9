/**
 * GitHub-hosted runners are not root (uid 1001, in the docker group). The other e2e tests run as
 * root here and so take the "lend the workspace to the image's user" path; this one runs the
 * action as an unprivileged runner user, so the container runs as that uid (which has no entry
 * in the image's /etc/passwd) and the files it writes stay the runner's.
 * .ci/run creates the user (scripts/install-host-deps.sh); without it the test says so and fails.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startFakeAnthropic } from '../servers/fake-anthropic.js'
import { baseInputs, leftoverContainers, makeRepo } from '../helpers/e2e.js'
import { runAction, runPost } from '../helpers/run-action.js'

const RUNNER_USER = 'sandbox-runner'

function runnerUser(): { uid: number; gid: number; home: string } {
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find(line => line.startsWith(`${RUNNER_USER}:`))
  const docker = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find(line => line.startsWith('docker:'))
  if (!passwd || !docker) {
    throw new Error(
      `no ${RUNNER_USER} user or docker group: run scripts/install-host-deps.sh as root (it creates them)`
    )
  }
  const [, , uid, , , home] = passwd.split(':')
  const [, , gid] = docker.split(':')
  // The docker group as primary group: it is what lets the runner reach the daemon's socket.
  return { uid: Number(uid), gid: Number(gid), home: home ?? '/tmp' }
}

function chownTree(dir: string, uid: number, gid: number): void {
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir])
}

describe('a non-root runner', () => {
  it('runs the agent as the runner uid; the files it writes stay the runner', async () => {
    expect(process.getuid?.()).toBe(0)
    const user = runnerUser()
    const repo = makeRepo()
    chownTree(repo, user.uid, user.gid)
    const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'runner-temp-nonroot-'))
    chownSync(runnerTemp, user.uid, user.gid)
    const api = await startFakeAnthropic({
      turns: [
        {
          tools: [
            {
              name: 'Write',
              input: { file_path: '/workspace/made-by-agent.txt', content: 'hi\n' }
            },
            {
              name: 'Bash',
              input: { command: 'id -u > /workspace/agent-uid.txt', description: 'uid' }
            }
          ]
        },
        { text: 'done' }
      ]
    })
    try {
      const inputs = baseInputs({ prompt: 'Write a file.', 'anthropic-base-url': api.url })
      const options = { inputs, workspace: repo, runnerTemp, user }
      const run = await runAction(options)
      await runPost(run, options)
      expect(run.errors).toEqual([])
      expect(run.outputs.conclusion).toBe('success')
      expect(readFileSync(path.join(repo, 'agent-uid.txt'), 'utf8').trim()).toBe(String(user.uid))
      for (const name of ['made-by-agent.txt', 'agent-uid.txt']) {
        expect(statSync(path.join(repo, name)).uid).toBe(user.uid)
      }
      expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('made-by-agent.txt')
      expect(
        readdirSync(path.join(runnerTemp, 'claude-sandbox')).filter(n => n.endsWith('.work'))
      ).toEqual([])
      expect(leftoverContainers()).toEqual([])
    } finally {
      await api.close()
    }
  })
})
