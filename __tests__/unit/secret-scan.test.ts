import { describe, expect, it } from '@jest/globals'
import { fake, fakeChars } from '../helpers/fake-secrets.js'
import {
  encodedForms,
  findFormatSecrets,
  findKnownSecrets,
  findSecrets,
  redactSecrets,
  shannonEntropy
} from '../../src/secrets/scan.js'
import { scanPatch } from '../../src/secrets/patch-scan.js'
import { isCredentialName, knownSecrets, knownSecretsForPublish } from '../../src/secrets/known.js'
import { scanForPublishing, secretRefusal } from '../../src/secrets/verdict.js'

const none = { values: [] }

describe('well-known formats', () => {
  const positives: Array<[string, string]> = [
    ['github-pat', `token = "${fake.githubPat()}"`],
    ['github-app-token', `GITHUB_TOKEN=${fake.githubActionsToken()}`],
    ['aws-access-token', `aws_access_key_id = ${fake.awsAccessKeyId()}`],
    ['slack-bot-token', `const slack = '${fake.slackBot()}'`],
    ['npm-access-token', `//registry.example.com/:_authToken=${fake.npmToken()}`],
    ['stripe-access-token', `STRIPE=${fake.stripe()}`],
    ['gcp-api-key', `key: "${fake.gcpKey()}"`],
    ['anthropic-api-key', `ANTHROPIC_API_KEY=${fake.anthropicKey()}`],
    ['private-key', fake.privateKey()]
  ]
  it.each(positives)('finds a %s', (rule, text) => {
    const findings = findFormatSecrets(`line before\n${text}\nline after`)
    expect(findings.map(f => f.rule)).toEqual([rule])
  })

  const nearMisses: Array<[string, string]> = [
    ['a sha256: digest', `image@sha256:${'0123456789abcdef'.repeat(4)}`],
    ['a UUID', 'id: 123e4567-e89b-12d3-a456-426614174000'],
    [
      'a base64 test vector',
      'expect(b64("Man is distinguished")).toBe("TWFuIGlzIGRpc3Rpbmd1aXNoZWQ=")'
    ],
    ['a git object id', 'commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904'],
    ["AWS's documented example key id", 'AKIAIOSFODNN7EXAMPLE'],
    ['a low-entropy GitHub-shaped string', `ghp_${'a'.repeat(36)}`],
    ['a token prefix in prose', 'GitHub tokens start with ghp_ and npm tokens with npm_'],
    [
      'a PEM public key',
      `-----BEGIN PUBLIC KEY-----\n${fakeChars(1, 64)}\n-----END PUBLIC KEY-----`
    ],
    ['a JWT-looking word', 'the eyJ prefix marks base64 JSON']
  ]
  it.each(nearMisses)('does not flag %s', (_what, text) => {
    expect(findFormatSecrets(text)).toEqual([])
  })

  it('measures entropy as gitleaks does', () => {
    expect(shannonEntropy('aaaa')).toBe(0)
    expect(shannonEntropy('abcd')).toBe(2)
  })
})

describe('known values', () => {
  const token = fake.opaque(21, 40)
  const known = knownSecrets([{ value: token, source: 'env:DEPLOY_TOKEN' }])

  it('finds the value raw, URL-encoded, and base64 at any alignment', () => {
    const withSymbols = `${token}/+=`
    const set = knownSecrets([{ value: withSymbols, source: 'env:X_TOKEN' }])
    for (const text of [
      `deploy ${withSymbols} now`,
      `https://example.com/?t=${encodeURIComponent(withSymbols)}`,
      Buffer.from(withSymbols).toString('base64'),
      Buffer.from(`x-access-token:${withSymbols}`).toString('base64'),
      Buffer.from(`ab${withSymbols}`).toString('base64url')
    ]) {
      expect(findKnownSecrets(text, set).map(f => f.rule)).toContain('known:env:X_TOKEN')
    }
  })

  it('ignores values too short to be told from ordinary text', () => {
    const short = knownSecrets([{ value: 'hunter2', source: 'env:PASSWORD' }])
    expect(findKnownSecrets('my password is hunter2', short)).toEqual([])
    expect(encodedForms('hunter2')).toEqual([])
  })

  it('redacts known values and formats, and keeps the rest', () => {
    const pat = fake.githubPat(5)
    const text = `deploy with ${token} and ${pat}; done`
    const redacted = redactSecrets(text, known)
    expect(redacted).toBe('deploy with [REDACTED:env:DEPLOY_TOKEN] and [REDACTED:github-pat]; done')
    expect(findSecrets(redacted, known)).toEqual([])
  })

  it('takes env names that look like credentials', () => {
    expect(
      ['DEPLOY_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD', 'api_key'].every(isCredentialName)
    ).toBe(true)
    expect(['NODE_ENV', 'PATH', 'LOG_LEVEL'].some(isCredentialName)).toBe(false)
  })

  it("the publish action knows its token and the job's credential-like env, not its own inputs", () => {
    const set = knownSecretsForPublish('ghs_publishtoken1234567890', {
      DEPLOY_TOKEN: token,
      'INPUT_SECRET-SCAN-ALLOW': 'fixtures/**',
      HOME: '/home/runner'
    })
    expect(set.values.map(v => v.source).sort()).toEqual(['env:DEPLOY_TOKEN', 'github-token'])
  })
})

function patchOf(files: Array<{ path: string; added: string[]; context?: string[] }>): string {
  return files
    .map(({ path, added, context = [] }) =>
      [
        `diff --git a/${path} b/${path}`,
        'index 0000000..1111111 100644',
        `--- a/${path}`,
        `+++ b/${path}`,
        `@@ -1,${context.length} +1,${context.length + added.length} @@`,
        ...context.map(line => ` ${line}`),
        ...added.map(line => `+${line}`),
        ''
      ].join('\n')
    )
    .join('')
}

describe('the patch scan', () => {
  const token = fake.opaque(31, 40)
  const known = knownSecrets([{ value: token, source: 'env:DEPLOY_TOKEN' }])
  const pat = fake.githubPat(7)
  const aws = fake.awsAccessKeyId(8)
  const patch = patchOf([
    { path: 'deploy.env', context: ['# deploy', 'REGION=eu'], added: ['A=1', `TOKEN=${token}`] },
    { path: 'src/app.ts', added: ['const x = 1', `const gh = '${pat}'`] },
    { path: 'test/fixtures/aws.txt', added: [aws] },
    { path: 'old.txt', context: [`CONTEXT=${fake.githubPat(9)}`], added: ['new line'] }
  ])

  it('places findings on added lines by file and new-file line number', () => {
    const findings = scanPatch(patch, known)
    const added = findings.filter(f => f.added)
    expect(added.map(f => `${f.file}:${f.line}:${f.rule}`)).toEqual([
      'deploy.env:4:known:env:DEPLOY_TOKEN',
      'src/app.ts:2:github-pat',
      'test/fixtures/aws.txt:1:aws-access-token'
    ])
    // A secret already in the repository's context lines is not the agent's addition.
    expect(findings.find(f => f.file === 'old.txt')?.added).toBe(false)
  })

  it('allows well-known formats under secret-scan-allow, never a known value', () => {
    const allowed = scanPatch(patch, known, ['test/fixtures/**', 'deploy.env'])
    expect(allowed.filter(f => f.added && !f.allowed).map(f => f.file)).toEqual([
      'deploy.env',
      'src/app.ts'
    ])
  })

  it('refuses with one message naming file, line and rule, never the value', () => {
    const result = scanForPublishing(patch, [`done, token ${token}`], {
      enabled: true,
      allow: ['test/fixtures/**'],
      known
    })
    const error = secretRefusal(result.blocking)
    expect(error.message).toContain('deploy.env:4 (known:env:DEPLOY_TOKEN, ***)')
    expect(error.message).toContain('src/app.ts:2 (github-pat, ghp_***)')
    expect(error.message).not.toContain(token)
    expect(error.message).not.toContain(pat)
    expect(error.message).not.toContain('aws.txt')
    expect(result.inMessages).toBe(1)
    // The patch is redacted where it adds, and the allowed fixture is left as it is.
    expect(result.redactedPatch).not.toContain(token)
    expect(result.redactedPatch).not.toContain(pat)
    expect(result.redactedPatch).toContain(aws)
    expect(result.redact(`final ${token} ${aws}`)).toBe(`final [REDACTED:env:DEPLOY_TOKEN] ${aws}`)
  })

  it('finds a multi-line private key added to a file', () => {
    const findings = scanPatch(
      patchOf([{ path: 'id_rsa', added: fake.privateKey(3).split('\n') }]),
      none
    )
    expect(findings.map(f => `${f.file}:${f.line}:${f.rule}`)).toEqual(['id_rsa:1:private-key'])
  })
})
