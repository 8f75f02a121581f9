// The lazily loaded cache client answers "is the service here?" exactly as @actions/cache does,
// without loading it.
import { describe, expect, it } from '@jest/globals'
import * as actionsCache from '@actions/cache'
import { isFeatureAvailable } from '../../src/cache-client.js'

const NAMES = [
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_CACHE_URL',
  'GITHUB_SERVER_URL'
] as const

describe('isFeatureAvailable', () => {
  const cases: Array<Partial<Record<(typeof NAMES)[number], string>>> = []
  for (const v2 of [undefined, 'true'])
    for (const results of [undefined, 'http://127.0.0.1:1/'])
      for (const v1 of [undefined, 'http://127.0.0.1:2/'])
        for (const server of [
          undefined,
          'https://github.com',
          'https://ghes.example.com',
          'https://acme.ghe.com',
          'http://github.localhost'
        ])
          cases.push({
            ACTIONS_CACHE_SERVICE_V2: v2,
            ACTIONS_RESULTS_URL: results,
            ACTIONS_CACHE_URL: v1,
            GITHUB_SERVER_URL: server
          })

  it.each(cases.map(c => [JSON.stringify(c), c] as const))('%s', (_name, env) => {
    const saved = Object.fromEntries(NAMES.map(name => [name, process.env[name]]))
    try {
      for (const name of NAMES) {
        const value = env[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      expect(isFeatureAvailable(process.env)).toBe(actionsCache.isFeatureAvailable())
    } finally {
      for (const name of NAMES) {
        const value = saved[name]
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  it('some cases are available and some are not (the table can tell them apart)', () => {
    expect(isFeatureAvailable({ ACTIONS_CACHE_URL: 'http://x/' })).toBe(true)
    expect(
      isFeatureAvailable({ ACTIONS_CACHE_SERVICE_V2: 'true', ACTIONS_CACHE_URL: 'http://x/' })
    ).toBe(false)
  })
})
