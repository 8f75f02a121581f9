/**
 * Issue 11.4: whatever the container writes to the CLI's stdout and stderr, the action's memory
 * and time stay bounded. A hostile agent writes 700 MB to the CLI's stdout with no newline and
 * 100 MB to its stderr on one line; the real CLI in the real container, driven through dist/.
 */
import { describe, expect, it } from '@jest/globals'
import { readFileSync, statSync } from 'node:fs'
import { leftoverContainers, runScenario } from '../helpers/e2e.js'

function bash(command: string, extra: Record<string, unknown> = {}) {
  return { name: 'Bash', input: { command, description: 'step', ...extra } }
}

/** The CLI's pid inside the container: the lowest process whose executable is the claude binary. */
const CLI_PID =
  'cli=$(for p in /proc/[0-9]*; do case "$(readlink $p/exe 2>/dev/null)" in *claude*) echo ${p#/proc/};; esac; done | sort -n | head -1)'

/** Peak resident memory (VmHWM) of a process, in bytes; 0 once it is gone. */
function peakRss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status)
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

const MiB = 1024 * 1024

describe("a flood on the CLI's stdout and stderr", () => {
  it('700 MB without a newline and 100 MB of stderr on one line: seconds, bounded memory, nothing lost', async () => {
    let peak = 0
    let floodStarted = 0
    const started = Date.now()
    const { run } = await runScenario(
      [
        {
          tools: [
            { name: 'Write', input: { file_path: '/workspace/fix.txt', content: 'the fix\n' } }
          ]
        },
        {
          tools: [
            bash(
              `${CLI_PID}; test -n "$cli" || exit 3; ` +
                `head -c 700M /dev/zero | tr '\\0' a > /proc/$cli/fd/1; ` +
                `head -c 100M /dev/zero | tr '\\0' b > /proc/$cli/fd/2; echo flooded`,
              { timeout: 300000 }
            )
          ]
        },
        { text: 'Flooded and fixed.' }
      ],
      {
        during: (child, api) => {
          // VmHWM only grows: polled until the process is gone, the last reading is its peak.
          const timer = setInterval(() => {
            if (floodStarted === 0 && api.mainRequests().length >= 2) floodStarted = Date.now()
            const now = child.pid ? peakRss(child.pid) : 0
            if (now > peak) peak = now
          }, 100)
          child.on('close', () => clearInterval(timer))
        }
      }
    )
    const seconds = (Date.now() - started) / 1000
    const floodSeconds = floodStarted ? (Date.now() - floodStarted) / 1000 : NaN
    console.log(
      `bounded host: whole step ${seconds.toFixed(1)} s, from the flood to the end ${floodSeconds.toFixed(1)} s, peak RSS of the action ${(peak / MiB).toFixed(0)} MiB, live log ${(run.stdout.length / 1024).toFixed(0)} KiB`
    )

    expect(run.errors).toEqual([])
    expect(run.outputs.conclusion).toBe('success')
    expect(run.outputs['final-message']).toBe('Flooded and fixed.')
    // Memory: well under 1 GB (the transcript's bounds are 64 + 32 MiB, a line's 8 MiB).
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThan(400 * MiB)
    // Time: linear; the old quadratic splitting took over 5 minutes for the stdout part alone.
    expect(floodSeconds).toBeLessThan(60)
    expect(seconds).toBeLessThan(120)

    // The patch holds the fix.
    expect(readFileSync(run.outputs['patch-path'] ?? '', 'utf8')).toContain('+the fix')
    // The transcript is kept, bounded, one JSON object a line, and says what it cut.
    const transcriptPath = run.outputs['execution-file'] ?? ''
    expect(statSync(transcriptPath).size).toBeLessThan(100 * MiB)
    const lines = readFileSync(transcriptPath, 'utf8').trim().split('\n')
    const objects = lines.map(line => JSON.parse(line) as Record<string, unknown>)
    expect(objects[0]).toMatchObject({ type: 'system', subtype: 'init' })
    expect(objects.at(-1)).toMatchObject({ type: 'result', subtype: 'success' })
    // The CLI's own messages printed meanwhile end the flood's "line" early; the cut lines
    // together hold all of it, each kept as its head and tail only.
    const cuts = objects.filter(object => object.type === 'transcript_cut')
    expect(cuts.length).toBeGreaterThan(0)
    const cutBytes = cuts.reduce((sum, cut) => sum + Number(cut.line_bytes), 0)
    expect(cutBytes).toBeGreaterThanOrEqual(700 * MiB)
    for (const cut of cuts) expect(String(cut.head)).toMatch(/^a+$/)
    // The summary is written.
    expect(run.summary).toMatch(/Claude Sandbox: success/)
    // The live log stays readable: each giant line logged cut, with its size.
    expect(run.stdout).toMatch(/\(a line of \d+\.\d MiB, cut; not read\) a{200}… … /)
    expect(run.stdout).toMatch(/\[stderr\] b{200}… …b{100} \(a line of 100\.0 MiB, cut\)\n/)
    expect(run.stdout.length).toBeLessThan(1 * MiB)
    // This run's container is gone (other runs may share the daemon).
    expect(run.state.runId).toBeTruthy()
    expect(leftoverContainers().filter(name => name.includes(run.state.runId ?? '?'))).toEqual([])
  })
})
