/**
 * Benchmark: the secret scan over a 10 MB patch (issue 20: target <= 1 s), in one run.
 *
 *   npx tsx scripts/bench-secret-scan.ts [--mb N] [--runs N]
 *
 * Three patches of the same size: ordinary code (identifiers, hashes, UUIDs, base64, a few
 * secrets), keyword-dense text (every line holds a rule's keyword and no secret: the rules'
 * worst case) and one holding a secret on every 50th line. Each is scanned as the publishing step
 * scans it (scanForPublishing: known values in their encoded forms, the format rules, placing
 * every finding, and redacting the patch), with ten known values. Prints the median and every
 * sample, MB/s, and the ratio to the target; exits 1 when a median exceeds 1 s.
 * BENCH_QUICK=1: 1 MB, two runs, no verdict.
 */
import { scanForPublishing } from '../src/secrets/verdict.js'
import { knownSecrets } from '../src/secrets/known.js'
import { median, QUICK } from './bench-mode.js'

const TARGET_MS = 1000

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

let state = 12345
function rand(n: number): number {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0
  return (state >>> 8) % n
}
function chars(length: number, alphabet: string): string {
  let out = ''
  for (let i = 0; i < length; i++) out += alphabet[rand(alphabet.length)]
  return out
}
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const HEX = '0123456789abcdef'

const ordinary = (): string => {
  switch (rand(6)) {
    case 0:
      return `  const ${chars(8, 'abcdefghij')} = await fetchThing(${rand(1000)}, '${chars(12, ALNUM)}')`
    case 1:
      return `  // digest sha256:${chars(64, HEX)}`
    case 2:
      return `  id: '${chars(8, HEX)}-${chars(4, HEX)}-${chars(4, HEX)}-${chars(4, HEX)}-${chars(12, HEX)}',`
    case 3:
      return `  data: "${chars(60, ALNUM)}==",`
    case 4:
      return `  if (value.key === undefined) throw new Error('missing key for token refresh')`
    default:
      return `  return ${chars(6, 'abcdef')}.map(x => x * ${rand(100)})`
  }
}
const keywordDense = (): string =>
  [
    '  // ghp_ and npm_ prefixes, AKIA ids, xoxb- tokens, sk_live_ keys and eyJ headers',
    '  const prefixes = ["ghs_", "glpat-", "hf_", "pul-", "dapi", "-----BEGIN", "AIza"]',
    '  assert(!text.startsWith("sk-ant-api03") && !text.includes("hooks.slack.com"))'
  ][rand(3)] as string
const withSecret = (i: number): string =>
  i % 50 === 0 ? `  const token = 'ghp_${chars(36, ALNUM)}'` : ordinary()

function makePatch(bytes: number, line: (i: number) => string): string {
  const parts: string[] = []
  let size = 0
  let file = 0
  let i = 0
  while (size < bytes) {
    const lines = Array.from({ length: 200 }, () => `+${line(i++)}`)
    const section = [
      `diff --git a/src/file${file}.ts b/src/file${file}.ts`,
      'new file mode 100644',
      'index 0000000..1111111',
      '--- /dev/null',
      `+++ b/src/file${file}.ts`,
      `@@ -0,0 +1,${lines.length} @@`,
      ...lines,
      ''
    ].join('\n')
    parts.push(section)
    size += section.length
    file++
  }
  return parts.join('')
}

function main(): void {
  const mb = option('mb', QUICK ? 1 : 10)
  const runs = option('runs', QUICK ? 2 : 5)
  const known = knownSecrets(
    Array.from({ length: 10 }, (_, i) => ({ value: chars(40, ALNUM), source: `env:SECRET_${i}` }))
  )
  const settings = { enabled: true, allow: [], known }
  let failed = false
  console.log(`Secret scan of a ${mb} MB patch, ${runs} runs each, 10 known values`)
  for (const [name, line] of [
    ['ordinary code', () => ordinary()],
    ['keyword-dense (worst case)', () => keywordDense()],
    ['a secret every 50 lines', withSecret]
  ] as Array<[string, (i: number) => string]>) {
    const patch = makePatch(mb * 1024 * 1024, line)
    const samples: number[] = []
    let findings = 0
    for (let run = 0; run < runs; run++) {
      const started = process.hrtime.bigint()
      const result = scanForPublishing(patch, ['final message'], settings)
      samples.push(Number(process.hrtime.bigint() - started) / 1e6)
      findings = result.blocking.length
    }
    const ms = median(samples)
    const rate = patch.length / 1024 / 1024 / (ms / 1000)
    console.log(
      `  ${name.padEnd(28)} median ${ms.toFixed(0)} ms (${rate.toFixed(0)} MB/s), ratio to target ${(ms / TARGET_MS).toFixed(2)}, findings ${findings}; samples ${samples.map(s => s.toFixed(0)).join(', ')} ms`
    )
    if (!QUICK && ms > TARGET_MS) failed = true
  }
  if (QUICK) console.log('BENCH_QUICK: no verdict')
  else console.log(failed ? 'FAIL: a median exceeds 1 s' : 'PASS: every median within 1 s')
  if (failed) process.exitCode = 1
}

main()
