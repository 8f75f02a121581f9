/**
 * `npm run demo`, the README's one command for the main job: provisions what is missing, then
 * runs the whole pipeline on a sample repository with a scripted local model, and ends with the
 * summary and the diff.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { REPO_ROOT } from '../helpers/run-action.js'
import { leftoverContainers, testCaBundle } from '../helpers/e2e.js'

describe('npm run demo', () => {
  it('fixes the sample repository and prints the summary and the diff', () => {
    // The same CA bundle as the other e2e runs, so the image they built is reused; provisioning
    // on (it only looks when everything is there), whatever the calling shell said.
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: testCaBundle() }
    delete env.PROVISION
    const result = spawnSync('npm', ['run', '-s', 'demo'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 600_000,
      env
    })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain('Claude Sandbox: success')
    expect(result.stdout).toContain('🔧 Edit: /workspace/src/calc.py')
    expect(result.stdout).toMatch(/^- {4}return a - b$/m)
    expect(result.stdout).toMatch(/^\+ {4}return a \+ b$/m)
    expect(result.stdout).toMatch(/Apply it with: git -C .* apply --binary .*claude\.patch/)
    // It ends with the summary, then the diff, then how to apply it: nothing after.
    const out = result.stdout.trimEnd()
    const summary = out.lastIndexOf('## ✅ Claude Sandbox: success')
    const diff = out.lastIndexOf('+    return a + b')
    expect(summary).toBeGreaterThan(out.indexOf('▶ Claude Code'))
    expect(diff).toBeGreaterThan(summary)
    expect(out.split('\n').at(-1)).toMatch(/^Apply it with: /)
    // Provisioning said what it found before anything ran.
    expect(result.stdout).toMatch(/^provision: local base images present/m)
    // The demo's container is gone (the daemon may be shared: others' may be running). Its
    // name carries the run id, which the patch path shows.
    const runId = /\/claude-sandbox\/([^/]+)\/claude\.patch$/m.exec(out)?.[1]
    expect(runId).toBeDefined()
    expect(leftoverContainers()).not.toContain(`claude-sandbox-${runId}`)
  })
})
