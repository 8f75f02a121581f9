/**
 * The CLI fetched with the runner's npm (cli-fetch-host.ts), for real from the package registry:
 * the platform package's binary, complete, executable, and the same bytes the builder
 * container's `npm install -g` gives. Runs no container; the binary is not executed on the host.
 */
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fetchCliOnHost } from '../../src/image/cli-fetch-host.js'
import { fetchCliStreamed, runnerNpm } from '../../src/image/cli-fetch-stream.js'
import { cliBinaryPath, completeMarker } from '../../src/image/cli-binary.js'
import { testCaBundle } from '../helpers/e2e.js'
import { defaultToolCache } from '../helpers/run-action.js'

const VERSION = '2.1.330'
const sha256 = (file: string): string =>
  createHash('sha256').update(readFileSync(file)).digest('hex')

describe('fetchCliOnHost', () => {
  it('fetches the platform binary with npm pack, complete and executable, without running it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-cli-host-'))
    try {
      const binaryPath = cliBinaryPath(dir, VERSION, 'X64')
      const started = Date.now()
      const failed = await fetchCliOnHost({
        version: VERSION,
        arch: 'X64',
        caFile: testCaBundle(),
        binaryPath
      })
      expect(failed).toBeUndefined()
      const stats = statSync(binaryPath)
      expect(stats.size).toBeGreaterThan(100 * 1024 * 1024)
      expect(stats.mode & 0o111).not.toBe(0)
      expect(readFileSync(binaryPath).subarray(0, 4).toString('latin1')).toBe('\x7fELF')
      expect(existsSync(completeMarker(binaryPath))).toBe(true)
      console.log(`fetched in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      // The builder container's install (earlier e2e runs keep it in the shared tool cache).
      const viaContainer = cliBinaryPath(defaultToolCache(), VERSION, 'X64')
      if (existsSync(viaContainer)) expect(sha256(binaryPath)).toBe(sha256(viaContainer))
      const missing = await fetchCliOnHost({
        version: '0.0.0-no-such-version',
        arch: 'X64',
        binaryPath: path.join(dir, 'other', 'claude')
      })
      expect(missing).toMatch(
        /npm pack @anthropic-ai\/claude-code-linux-x64@0\.0\.0-no-such-version failed/
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("streams the same binary from npm's registry (cli-fetch-stream.ts), checked against its digest", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-cli-stream-'))
    try {
      const { source } = await runnerNpm()
      expect(source?.registry).toMatch(/^https?:\/\//)
      const streamed = cliBinaryPath(dir, VERSION, 'X64')
      const started = Date.now()
      const failed = await fetchCliStreamed({
        version: VERSION,
        arch: 'X64',
        source: source ?? { registry: '' },
        caFile: testCaBundle(),
        binaryPath: streamed
      })
      expect(failed).toBeUndefined()
      console.log(`streamed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      expect(existsSync(completeMarker(streamed))).toBe(true)
      expect(statSync(streamed).mode & 0o111).not.toBe(0)
      const packed = path.join(dir, 'packed', 'claude')
      expect(
        await fetchCliOnHost({
          version: VERSION,
          arch: 'X64',
          caFile: testCaBundle(),
          binaryPath: packed
        })
      ).toBeUndefined()
      expect(sha256(streamed)).toBe(sha256(packed))
      const missing = await fetchCliStreamed({
        version: '0.0.0-no-such-version',
        arch: 'X64',
        source: source ?? { registry: '' },
        binaryPath: path.join(dir, 'other', 'claude')
      })
      expect(missing).toMatch(/failed \(HTTP 404\)/)
      expect(existsSync(path.join(dir, 'other', 'claude'))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
