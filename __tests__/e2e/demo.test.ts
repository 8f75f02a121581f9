/**
 * Issue 3, acceptance 4: `npm run demo` — the README's main-job command — works after the
 * README's set-up: the whole pipeline on a sample repository with a scripted local model.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { REPO_ROOT } from '../helpers/run-action.js'
import { leftoverContainers, testCaBundle } from '../helpers/e2e.js'

describe('npm run demo', () => {
  it('fixes the sample repository and prints the summary and the diff', () => {
    const result = spawnSync('npm', ['run', '-s', 'demo'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 600_000,
      // The same CA bundle as the other e2e runs, so the image they built is reused.
      env: { ...process.env, NODE_EXTRA_CA_CERTS: testCaBundle() }
    })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain('Claude Sandbox: success')
    expect(result.stdout).toContain('🔧 Edit: /workspace/src/calc.py')
    expect(result.stdout).toMatch(/^- {4}return a - b$/m)
    expect(result.stdout).toMatch(/^\+ {4}return a \+ b$/m)
    expect(result.stdout).toMatch(/Apply it with: git -C .* apply --binary .*claude\.patch/)
    expect(leftoverContainers()).toEqual([])
  })
})
