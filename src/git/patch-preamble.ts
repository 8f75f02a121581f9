/**
 * The patch's preamble: lines before the first `diff --git` header, which `git apply` skips (as
 * it skips the message of a `git format-patch` mail). It records what createPatch left out, so
 * the publish job, which has only the patch, can tell the reviewer too. Pure.
 *
 *   # Left out of this patch: 1 file over max-file-size (50 MiB). ...
 *   # left-out 1258291200 "build/out.bin"
 *
 * Names are JSON strings, so a name holding a newline or a quote stays on its line.
 */

export interface LeftOutFile {
  /** Repository-relative path, '/'-separated. */
  path: string
  /** Size on disk in bytes. */
  size: number
}

const RECORD = /^# left-out (\d+) ("(?:[^"\\]|\\.)*")$/

/** Sizes as people read them: binary units, one decimal, the exact bytes alongside. */
export function formatSize(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 'bytes'
  for (const next of units) {
    if (value < 1024) break
    value /= 1024
    unit = next
  }
  const shown = unit === 'bytes' ? String(bytes) : `${value.toFixed(1)} ${unit}`
  return unit === 'bytes' ? `${shown} bytes` : `${shown} (${bytes.toLocaleString('en-US')} bytes)`
}

/** The preamble for these files; '' when nothing was left out (the patch then starts with a diff). */
export function formatLeftOut(files: readonly LeftOutFile[], maxFileBytes: number): string {
  if (files.length === 0) return ''
  const count = files.length === 1 ? '1 file' : `${files.length} files`
  const lines = [
    `# Left out of this patch: ${count} over max-file-size (${formatSize(maxFileBytes)}).`,
    '# To publish one, commit it yourself, or raise the max-file-size input.',
    ...files.map(file => `# left-out ${file.size} ${JSON.stringify(file.path)}`)
  ]
  return `${lines.join('\n')}\n`
}

/** Reads one preamble line; undefined when it is not a left-out record. */
export function parseLeftOutLine(line: string): LeftOutFile | undefined {
  const match = RECORD.exec(line)
  if (!match) return undefined
  try {
    const parsed: unknown = JSON.parse(match[2] ?? '')
    return typeof parsed === 'string' ? { path: parsed, size: Number(match[1]) } : undefined
  } catch {
    return undefined
  }
}

/** One line for the step's log: what was left out, and how to get it published. */
export function describeLeftOut(files: readonly LeftOutFile[]): string {
  const shown = files
    .slice(0, 10)
    .map(file => `${JSON.stringify(file.path)} (${formatSize(file.size)})`)
  const more = files.length > 10 ? ` and ${files.length - 10} more` : ''
  return (
    `Left out of the patch, and so not published: ${files.length} file(s) over max-file-size: ` +
    `${shown.join(', ')}${more}. The rest of the change is kept; commit such files yourself, or raise max-file-size`
  )
}
