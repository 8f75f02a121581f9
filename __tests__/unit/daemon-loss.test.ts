import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { decideOutcome } from '../../src/agent/result.js'
import { clientLostDaemon, daemonLostMessage, killOrphan } from '../../src/sandbox/daemon-loss.js'

describe('daemon loss', () => {
  it('recognises what the attached client prints when its daemon goes away', () => {
    expect(
      clientLostDaemon(
        'time="2026-12-01T22:39:45Z" level=error msg="error waiting for container: unexpected EOF"'
      )
    ).toBe(true)
    expect(
      clientLostDaemon(
        'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'
      )
    ).toBe(true)
    expect(clientLostDaemon('npm ERR! code ELIFECYCLE')).toBe(false)
  })

  it('never signals a pid whose cgroup does not name the container', async () => {
    const child = spawn('sleep', ['30'])
    try {
      const pid = child.pid ?? 0
      expect(killOrphan({ id: 'f'.repeat(64), pid })).toBe('not-running')
      // Still alive: signal 0 only checks.
      expect(() => process.kill(pid, 0)).not.toThrow()
      expect(killOrphan({ id: 'f'.repeat(64), pid: 2 ** 22 + 7 })).toBe('not-running')
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('says what happened to the container, and the run ends as a failure with that sentence', () => {
    const killed = daemonLostMessage(
      'killed',
      'time="2026-12-01T23:24:12Z" level=error msg="error waiting for container: unexpected EOF"'
    )
    expect(killed).toMatch(
      /^The Docker daemon went away during the run \(error waiting for container: unexpected EOF\); the agent was stopped and its partial work kept\. Its container, left running without a daemon, was killed\./
    )
    expect(daemonLostMessage('denied', '')).toMatch(
      /could not be stopped from here and may still run/
    )
    const outcome = decideOutcome(
      {
        exitCode: 125,
        timedOut: false,
        cancelled: false,
        oomKilled: false,
        stderrTail: '',
        stopReason: killed
      },
      undefined,
      'half way',
      { timeoutMs: 60_000, memory: '4g', pidsLimit: 1024 },
      undefined,
      {
        api: {
          forwarded: 1,
          refused: [],
          costUsd: 0.01,
          inputTokens: 10,
          outputTokens: 1,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          webSearches: 0,
          turns: 1,
          lastTurnStopReason: 'tool_use',
          unpricedModels: []
        }
      }
    )
    expect(outcome).toMatchObject({
      conclusion: 'failure',
      message: killed,
      finalMessage: 'half way'
    })
  })
})
