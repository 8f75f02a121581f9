// ESM jest with ts-jest. Two projects: `unit` needs nothing but Node; `e2e` drives the bundled
// dist/ through the runner contract against a real Docker engine, real git and the real CLI.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: 'tsconfig.test.json', diagnostics: { ignoreCodes: [151002] } }
    ]
  }
}

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'] }
  ],
  reporters: ['default', '<rootDir>/__tests__/helpers/plain-summary-reporter.cjs'],
  testTimeout: 600000,
  verbose: false
}
