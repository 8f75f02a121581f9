import { describe, expect, it } from '@jest/globals'
import { cliPlatformPackage, scrubbedEnv } from '../../src/image/cli-fetch-host.js'

describe('cliPlatformPackage', () => {
  it('names the glibc package that holds the binary for the runner', () => {
    expect(cliPlatformPackage('X64', '2.1.330')).toBe('@anthropic-ai/claude-code-linux-x64@2.1.330')
    expect(cliPlatformPackage('ARM64', '2.1.330')).toBe(
      '@anthropic-ai/claude-code-linux-arm64@2.1.330'
    )
    expect(cliPlatformPackage('ia32', '2.1.330')).toBeUndefined()
  })
})

describe('scrubbedEnv', () => {
  it('keeps what npm needs and drops the step inputs and every other secret', () => {
    const env = scrubbedEnv(
      {
        PATH: '/usr/bin',
        HOME: '/home/runner',
        HTTPS_PROXY: 'http://proxy:3128',
        no_proxy: 'localhost',
        npm_config_registry: 'https://registry.example.com/',
        'INPUT_ANTHROPIC-API-KEY': 'sk-ant-secret',
        ACTIONS_RUNTIME_TOKEN: 'token',
        GITHUB_TOKEN: 'ghs_secret',
        AWS_SECRET_ACCESS_KEY: 'aws'
      },
      '/tmp/ca.pem'
    )
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/runner',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      npm_config_registry: 'https://registry.example.com/',
      NODE_EXTRA_CA_CERTS: '/tmp/ca.pem'
    })
  })
})
