/**
 * The fake Actions cache service in a process of its own, for benchmarks: the real service is
 * remote, so the client under measurement must not share its event loop with the server.
 * Protocol on stdio, one JSON line each: it prints `{"env": …}` once listening; `entries` on
 * stdin answers with the entries; closing stdin stops it and deletes its blobs.
 * Run: npx tsx __tests__/servers/fake-cache-process.ts
 */
import readline from 'node:readline'
import { startFakeCacheService } from './fake-cache.js'

const service = await startFakeCacheService()
process.stdout.write(`${JSON.stringify({ env: service.env })}\n`)
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', line => {
  if (line.trim() === 'entries') process.stdout.write(`${JSON.stringify(service.entries)}\n`)
})
lines.on('close', () => {
  void service.close().then(() => process.exit(0))
})
