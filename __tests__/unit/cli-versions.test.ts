// The supported range of `claude-code-version` (pure): its order, its ends, and the default in it.
import { describe, expect, it } from '@jest/globals'
import {
  compareVersions,
  outsideSupportedRange,
  SUPPORTED_CLI_VERSIONS
} from '../../src/agent/cli-versions.js'
import { DEFAULT_CLAUDE_CODE_VERSION } from '../../src/constants.js'

describe('compareVersions', () => {
  it.each([
    ['2.1.232', '2.1.232', 0],
    ['2.1.232', '2.1.1000', -1],
    ['2.10.0', '2.9.99', 1],
    ['3.0.0', '2.99.99', 1],
    ['2.1.300-beta.1', '2.1.300', -1],
    ['2.1.300-beta.2', '2.1.300-beta.1', 1]
  ])('%s vs %s', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected)
  })
})

describe('the supported range', () => {
  it('includes both ends and the default', () => {
    expect(outsideSupportedRange(SUPPORTED_CLI_VERSIONS.oldest)).toBeUndefined()
    expect(outsideSupportedRange(SUPPORTED_CLI_VERSIONS.newest)).toBeUndefined()
    expect(outsideSupportedRange(DEFAULT_CLAUDE_CODE_VERSION)).toBeUndefined()
  })

  it('refuses a version below or above it, naming the range', () => {
    expect(outsideSupportedRange('2.1.0')).toBe(
      'claude-code-version 2.1.0 is older than the supported range (2.1.232 to 2.1.332)'
    )
    expect(outsideSupportedRange('2.2.0')).toMatch(
      /newer than the supported range \(2\.1\.232 to 2\.1\.332\)/
    )
    expect(outsideSupportedRange('2.1.232-rc.1')).toMatch(/older/)
  })
})
