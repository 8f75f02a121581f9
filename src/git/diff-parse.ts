/**
 * Parses `git diff -z --no-abbrev --raw --numstat` into one record per changed path. Pure: the
 * git calls live in patch.ts, so createPatch and stagePatch describe a change the same way.
 */

export type ChangeStatus = 'added' | 'modified' | 'deleted' | 'renamed' | 'copied' | 'type-changed'

/** Git's file modes as it prints them: regular, executable, symlink, gitlink (submodule). */
export type GitMode = '100644' | '100755' | '120000' | '160000' | (string & {})

export const SYMLINK_MODE = '120000'
export const GITLINK_MODE = '160000'

export interface ChangedFile {
  /** Path after the change, relative to the repository root ('/'-separated, as git stores it). */
  path: string
  /** Path before a rename or the source of a copy. */
  oldPath?: string
  status: ChangeStatus
  /** Absent for an added file. */
  oldMode?: GitMode
  /** Absent for a deleted file. */
  newMode?: GitMode
  /** Object id before the change; absent for an added file. */
  oldSha?: string
  /** Object id after the change (a blob, or a commit for a gitlink); absent for a deleted file. */
  newSha?: string
  insertions: number
  deletions: number
  binary: boolean
  /** Size in bytes of the new blob; absent for deletions and gitlinks. */
  size?: number
  /** The new target of a symlink (mode 120000), exactly as stored, never resolved. */
  symlinkTarget?: string
}

/** What one `--raw` record says, before sizes and symlink targets are looked up. */
export type RawChange = Omit<ChangedFile, 'size' | 'symlinkTarget'>

const STATUS_BY_LETTER: Record<string, ChangeStatus> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  C: 'copied',
  T: 'type-changed'
}

const NUMSTAT = /^(\d+|-)\t(\d+|-)\t/
const ABSENT_MODE = /^0+$/
const ABSENT_SHA = /^0+$/

interface RawRecord {
  oldMode?: string
  newMode?: string
  oldSha?: string
  newSha?: string
  status: ChangeStatus
  path: string
  oldPath?: string
}

interface NumstatRecord {
  path: string
  insertions: number
  deletions: number
  binary: boolean
}

/** Splits NUL-terminated output into fields; a trailing empty field (after the last NUL) is dropped. */
function splitNul(output: Buffer): string[] {
  const fields: string[] = []
  let start = 0
  for (let index = output.indexOf(0, start); index !== -1; index = output.indexOf(0, start)) {
    fields.push(output.subarray(start, index).toString('utf8'))
    start = index + 1
  }
  if (start < output.length) fields.push(output.subarray(start).toString('utf8'))
  return fields
}

class DiffParseError extends Error {
  constructor(detail: string) {
    super(`cannot parse git diff output: ${detail}`)
    this.name = 'DiffParseError'
  }
}

function takeField(fields: string[], index: number, what: string): string {
  const field = fields[index]
  if (field === undefined) throw new DiffParseError(`missing ${what}`)
  return field
}

function parseRawHeader(
  header: string
): Omit<RawRecord, 'path' | 'oldPath'> & { twoPaths: boolean } {
  // ":100644 100755 <old sha> <new sha> M" (R and C carry a similarity score: "R087")
  const parts = header.slice(1).split(' ')
  const [oldMode, newMode, oldSha, newSha, statusField] = parts
  if (parts.length !== 5 || !oldMode || !newMode || !oldSha || !newSha || !statusField) {
    throw new DiffParseError(`bad raw record ${JSON.stringify(header)}`)
  }
  const letter = statusField.charAt(0)
  const status = STATUS_BY_LETTER[letter]
  if (!status) throw new DiffParseError(`unexpected status ${JSON.stringify(statusField)}`)
  return {
    status,
    oldMode: ABSENT_MODE.test(oldMode) ? undefined : oldMode,
    newMode: ABSENT_MODE.test(newMode) ? undefined : newMode,
    oldSha: ABSENT_SHA.test(oldSha) ? undefined : oldSha,
    newSha: ABSENT_SHA.test(newSha) ? undefined : newSha,
    twoPaths: letter === 'R' || letter === 'C'
  }
}

function count(field: string): number {
  return field === '-' ? 0 : Number(field)
}

/**
 * Parses the output of `git diff -z --no-abbrev --raw --numstat ...`: first every raw record,
 * then every numstat record, both in the same order. File names are taken positionally, so names
 * holding tabs, newlines, colons or anything else but NUL are read exactly.
 */
export function parseRawNumstat(output: Buffer): RawChange[] {
  const fields = splitNul(output)
  const raw: RawRecord[] = []
  const numstat: NumstatRecord[] = []
  let index = 0
  while (index < fields.length) {
    const field = takeField(fields, index++, 'record')
    if (field.startsWith(':')) {
      const { twoPaths, ...header } = parseRawHeader(field)
      if (numstat.length > 0) throw new DiffParseError('raw record after numstat records')
      if (twoPaths) {
        const oldPath = takeField(fields, index++, 'source path')
        const path = takeField(fields, index++, 'destination path')
        raw.push({ ...header, path, oldPath })
      } else {
        raw.push({ ...header, path: takeField(fields, index++, 'path') })
      }
      continue
    }
    const match = NUMSTAT.exec(field)
    if (!match) throw new DiffParseError(`unexpected field ${JSON.stringify(field)}`)
    const [prefix, added = '', removed = ''] = match
    const inlinePath = field.slice(prefix.length)
    let path = inlinePath
    if (inlinePath === '') {
      // A rename or copy: "<added>\t<removed>\t\0<old path>\0<new path>\0"
      index++ // old path, already known from the raw record
      path = takeField(fields, index++, 'numstat destination path')
    }
    numstat.push({
      path,
      insertions: count(added),
      deletions: count(removed),
      binary: added === '-' || removed === '-'
    })
  }

  if (numstat.length !== raw.length) {
    throw new DiffParseError(`${raw.length} raw records but ${numstat.length} numstat records`)
  }
  return raw.map((record, position) => {
    const stat = numstat[position]
    if (!stat || stat.path !== record.path) {
      throw new DiffParseError(`raw and numstat records disagree at ${JSON.stringify(record.path)}`)
    }
    const change: RawChange = {
      path: record.path,
      status: record.status,
      insertions: stat.insertions,
      deletions: stat.deletions,
      binary: stat.binary
    }
    if (record.oldPath !== undefined) change.oldPath = record.oldPath
    if (record.oldMode !== undefined) change.oldMode = record.oldMode
    if (record.newMode !== undefined) change.newMode = record.newMode
    if (record.oldSha !== undefined) change.oldSha = record.oldSha
    if (record.newSha !== undefined) change.newSha = record.newSha
    return change
  })
}

/** NUL-separated output as raw byte strings, so any file name survives intact. */
export function splitNulRaw(output: Buffer): Buffer[] {
  const entries: Buffer[] = []
  let start = 0
  for (let index = output.indexOf(0); index !== -1; index = output.indexOf(0, start)) {
    if (index > start) entries.push(output.subarray(start, index))
    start = index + 1
  }
  if (start < output.length) entries.push(output.subarray(start))
  return entries
}
