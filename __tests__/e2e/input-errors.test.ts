/**
 * Issue 2, acceptance 4: bad input ends with exactly one `::error::` line naming the cause and
 * the remedy, never a stack trace, driven through dist/ like a runner would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { baseInputs, makeRepo } from '../helpers/e2e.js'
import { runAction } from '../helpers/run-action.js'

let repo: string
let scratch: string

beforeAll(() => {
  repo = makeRepo()
  scratch = mkdtempSync(path.join(os.tmpdir(), 'e2e-errors-'))
})

afterAll(() => {
  rmSync(repo, { recursive: true, force: true })
  rmSync(scratch, { recursive: true, force: true })
})

async function expectOneError(
  inputs: Record<string, string>,
  pattern: RegExp,
  env: Record<string, string> = {}
): Promise<string> {
  const run = await runAction({
    inputs: baseInputs({ prompt: 'Do it.', 'anthropic-base-url': 'http://127.0.0.1:9', ...inputs }),
    workspace: repo,
    env
  })
  expect(run.exitCode).toBe(1)
  expect(run.errors).toHaveLength(1)
  const line = run.errors[0] ?? ''
  expect(line).toMatch(pattern)
  // No stack trace anywhere in what the step printed.
  expect(run.stdout + run.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/)
  return line
}

describe('bad input', () => {
  it('a missing dockerfile', async () => {
    const line = await expectOneError(
      { dockerfile: 'no/such/Dockerfile' },
      /`dockerfile`.*does not exist/
    )
    expect(line).toMatch(/bundled image/)
  })

  it('a malformed build-args line', async () => {
    await expectOneError(
      { 'build-args': 'BASE_IMAGE=x\nthis is not a pair' },
      /`build-args` line 2 is not KEY=VALUE.*one KEY=VALUE per line/
    )
  })

  it('a ca-certificates file that is not PEM', async () => {
    const notPem = path.join(scratch, 'cert.der')
    writeFileSync(notPem, Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02, 0x82]))
    await expectOneError(
      { 'ca-certificates': notPem },
      /`ca-certificates`.*not a PEM file.*openssl x509/
    )
  })

  it('no Docker daemon reachable', async () => {
    await expectOneError({}, /No Docker daemon is reachable.*(start dockerd|DOCKER_HOST)/, {
      DOCKER_HOST: `unix://${path.join(scratch, 'no-docker.sock')}`
    })
  })

  it('no credentials', async () => {
    await expectOneError({ 'anthropic-api-key': '' }, /No credentials.*secrets\.ANTHROPIC_API_KEY/)
  })

  it('a wrong network value', async () => {
    await expectOneError({ network: 'closed' }, /`network` must be one of restricted, open/)
  })

  it('a claude-code-version inside the supported range that does not exist', async () => {
    // A prerelease of a version in the range: past the range check, refused by the registry.
    await expectOneError(
      { 'claude-code-version': '2.1.300-does-not-exist' },
      /claude-code-version 2\.1\.300-does-not-exist does not exist.*npm view/
    )
  }, 300_000)
})
