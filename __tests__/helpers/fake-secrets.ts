/**
 * Secret-shaped test values, made at run time from a fixed seed so that no token-shaped literal
 * sits in the repository (push protection and scanners would flag our own tests).
 */
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const UPPER_B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

export function fakeChars(seed: number, length: number, alphabet = ALNUM): string {
  let state = seed >>> 0 || 1
  let out = ''
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    out += alphabet[(state >>> 16) % alphabet.length]
  }
  return out
}

export const fake = {
  githubPat: (seed = 1): string => `ghp_${fakeChars(seed, 36)}`,
  githubActionsToken: (seed = 2): string => `ghs_${fakeChars(seed, 36)}`,
  awsAccessKeyId: (seed = 3): string => `AKIA${fakeChars(seed, 16, UPPER_B32)}`,
  slackBot: (seed = 4): string =>
    `xoxb-${fakeChars(seed, 12, '0123456789')}-${fakeChars(seed + 1, 12, '0123456789')}-${fakeChars(seed + 2, 24)}`,
  npmToken: (seed = 5): string => `npm_${fakeChars(seed, 36)}`,
  stripe: (seed = 6): string => `sk_live_${fakeChars(seed, 24)}`,
  gcpKey: (seed = 7): string => `AIza${fakeChars(seed, 35)}`,
  anthropicKey: (seed = 8): string => `sk-ant-api03-${fakeChars(seed, 93)}AA`,
  /** A PEM block with a body of `lines` base64 lines. */
  privateKey: (seed = 9, lines = 3): string =>
    [
      '-----BEGIN RSA PRIVATE KEY-----',
      ...Array.from({ length: lines }, (_, i) => fakeChars(seed + i, 64)),
      '-----END RSA PRIVATE KEY-----'
    ].join('\n'),
  /** An opaque token of no known format (a deploy token, say). */
  opaque: (seed = 10, length = 32): string => fakeChars(seed, length)
}
