import { describe, expect, it } from '@jest/globals'
import { ConfigurationError } from '../../src/errors.js'
import { screenSecrets } from '../../src/github/secret-screen.js'
import type { Staging } from '../../src/github/publish-stage.js'
import type { PublishRequest } from '../../src/github/publish-types.js'
import { knownSecrets } from '../../src/secrets/known.js'
import { fake, fakeChars } from '../helpers/fake-secrets.js'

const deployToken = fakeChars(501, 40)
const pat = fake.githubPat(502)
const aws = fake.awsAccessKeyId(503)

const patchText = [
  'diff --git a/deploy.env b/deploy.env',
  'new file mode 100644',
  'index 0000000..1111111',
  '--- /dev/null',
  '+++ b/deploy.env',
  '@@ -0,0 +1,2 @@',
  `+TOKEN=${deployToken}`,
  `+GH=${pat}`,
  'diff --git a/test/fixtures/aws.txt b/test/fixtures/aws.txt',
  'new file mode 100644',
  'index 0000000..2222222',
  '--- /dev/null',
  '+++ b/test/fixtures/aws.txt',
  '@@ -0,0 +1 @@',
  `+${aws}`,
  ''
].join('\n')

function staging(mode: PublishRequest['mode'], enabled = true): Staging {
  const warnings: string[] = []
  const request = {
    mode,
    report: { conclusion: 'success', finalMessage: `Used ${deployToken}.` },
    secrets: {
      enabled,
      allow: ['test/fixtures/**'],
      known: knownSecrets([{ value: deployToken, source: 'env:DEPLOY_TOKEN' }])
    }
  } as unknown as PublishRequest
  return {
    request,
    log: { info: () => undefined, warning: (m: string) => warnings.push(m) },
    patchText,
    warnings
  } as unknown as Staging
}

describe('the secret scan at publishing', () => {
  it.each(['commit', 'pull-request'] as const)('refuses %s, naming file, line and rule', mode => {
    const s = staging(mode)
    let error: unknown
    try {
      screenSecrets(s)
    } catch (caught: unknown) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigurationError)
    const message = (error as Error).message
    expect(message).toContain('deploy.env:1 (known:env:DEPLOY_TOKEN, ***)')
    expect(message).toContain('deploy.env:2 (github-pat, ghp_***)')
    expect(message).not.toContain('aws.txt') // allowed by secret-scan-allow
    expect(message).not.toContain(deployToken)
    expect(message).not.toContain(pat)
  })

  it.each(['comment', 'review'] as const)(
    'redacts %s: the patch it shows and the message',
    mode => {
      const s = staging(mode)
      screenSecrets(s)
      expect(s.patchText).toContain('+TOKEN=[REDACTED:env:DEPLOY_TOKEN]')
      expect(s.patchText).toContain('+GH=[REDACTED:github-pat]')
      expect(s.patchText).toContain(`+${aws}`)
      expect(s.request.report.finalMessage).toBe('Used [REDACTED:env:DEPLOY_TOKEN].')
      expect(s.warnings.join('\n')).toContain('2 possible secret(s)')
    }
  )

  it('does nothing with secret-scan: false', () => {
    const s = staging('commit', false)
    screenSecrets(s)
    expect(s.patchText).toBe(patchText)
  })
})
