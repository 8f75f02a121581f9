import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChangedFile } from '../../src/git/diff-parse.js'
import {
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_PROTECTED_PATHS,
  checkPathPolicy,
  resolveProtectedPaths,
  formatViolations,
  type PolicyViolation
} from '../../src/git/path-policy.js'

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

const file = (path: string, extra: Partial<ChangedFile> = {}): ChangedFile => ({
  path,
  status: 'added',
  newMode: '100644',
  insertions: 1,
  deletions: 0,
  binary: false,
  size: 10,
  ...extra
})

const link = (path: string, symlinkTarget: string): ChangedFile =>
  file(path, { newMode: '120000', symlinkTarget, size: symlinkTarget.length })

const reasonsFor = (violations: PolicyViolation[], path: string): string[] =>
  violations.filter(violation => violation.path === path).map(violation => violation.reason)

describe('checkPathPolicy', () => {
  it('allows ordinary changes, including links that stay inside the repository', () => {
    const files = [
      file('src/index.ts', { status: 'modified', oldMode: '100644' }),
      file('docs/a file with spaces ü.md'),
      file('odd/line\nbreak.txt'),
      file('docs/github-notes.md'),
      file('.gitignore'),
      file('notes/.github-like/x'),
      link('link-to-readme', 'README.md'),
      link('docs/deep/up', '../../src/index.ts'),
      link('docs/root', '..'),
      link('here', './src'),
      file('gone.txt', {
        status: 'deleted',
        newMode: undefined,
        oldMode: '100644',
        size: undefined
      })
    ]
    expect(checkPathPolicy(files)).toEqual([])
  })

  it.each([
    ['.git/config'],
    ['.GIT/config'],
    ['.Git/hooks/pre-commit'],
    ['sub/.git/hooks/x'],
    ['sub/.git'],
    ['.git'],
    ['.git./config'],
    ['.git /config'],
    ['.g\u200cit/config'],
    ['GIT~1/config'],
    ['.git::$INDEX_ALLOCATION/config'],
    ['sub\\.git\\hooks\\x']
  ])('refuses %j as a path inside .git', path => {
    expect(reasonsFor(checkPathPolicy([file(path)]), path)).toContain('path is inside .git')
  })

  it('does not mistake names that merely contain .git for .git', () => {
    expect(checkPathPolicy([file('.gitkeep'), file('my.git/x'), file('notes/.github-x')])).toEqual(
      []
    )
  })

  it('refuses absolute paths and ".." or empty components', () => {
    const violations = checkPathPolicy([
      file('/etc/passwd'),
      file('../outside.txt'),
      file('a/../../x'),
      file('a//b'),
      file('a/./b')
    ])
    expect(reasonsFor(violations, '/etc/passwd')).toContain('absolute path')
    expect(reasonsFor(violations, '../outside.txt')).toContain('path has a ".." component')
    expect(reasonsFor(violations, 'a/../../x')).toContain('path has a ".." component')
    expect(reasonsFor(violations, 'a//b')).toContain('path has an empty or "." component')
    expect(reasonsFor(violations, 'a/./b')).toContain('path has an empty or "." component')
  })

  it('checks the old path of a rename for .git and ".." too', () => {
    const violations = checkPathPolicy([
      file('innocent.txt', { status: 'renamed', oldPath: '.git/hooks/post-checkout' })
    ])
    expect(reasonsFor(violations, '.git/hooks/post-checkout')).toContain('path is inside .git')
  })

  it('refuses changes under protected paths: added, modified, deleted, mode-changed', () => {
    const violations = checkPathPolicy([
      file('.github/workflows/new.yml'),
      file('.github/workflows/ci.yml', { status: 'modified', oldMode: '100644' }),
      file('.github/workflows/old.yml', { status: 'deleted', newMode: undefined, size: undefined }),
      file('.github/workflows/deep/x.yml', { oldMode: '100644', newMode: '100755' })
    ])
    expect(violations.map(violation => violation.path)).toEqual([
      '.github/workflows/new.yml',
      '.github/workflows/ci.yml',
      '.github/workflows/old.yml',
      '.github/workflows/deep/x.yml'
    ])
    for (const violation of violations) {
      expect(violation.reason).toBe('matches protected path ".github/**"')
    }
  })

  it('matches protected paths whatever the case or trailing dots', () => {
    const paths = [
      '.GitHub/Workflows/x.yml',
      '.github./workflows/x.yml',
      '.github/workflows /x.yml'
    ]
    const violations = checkPathPolicy(paths.map(path => file(path)))
    expect(violations.map(violation => violation.path)).toEqual(paths)
  })

  it('refuses renames into and out of a protected path', () => {
    const violations = checkPathPolicy([
      file('harmless.yml', { status: 'renamed', oldPath: '.github/workflows/ci.yml' }),
      file('.github/workflows/pwn.yml', { status: 'renamed', oldPath: 'docs/pwn.yml' })
    ])
    expect(reasonsFor(violations, '.github/workflows/ci.yml')).toEqual([
      'renamed to "harmless.yml": matches protected path ".github/**"'
    ])
    expect(reasonsFor(violations, '.github/workflows/pwn.yml')).toEqual([
      'matches protected path ".github/**"'
    ])
    expect(reasonsFor(violations, 'docs/pwn.yml')).toEqual([])
  })

  it('allows copying out of a protected path, which leaves it unchanged', () => {
    const copy = file('docs/ci-example.yml', {
      status: 'copied',
      oldPath: '.github/workflows/ci.yml'
    })
    expect(checkPathPolicy([copy])).toEqual([])
  })

  it('refuses a file or link standing where a protected directory should be', () => {
    const violations = checkPathPolicy([link('.github', 'evil'), link('.github/workflows', '../x')])
    expect(reasonsFor(violations, '.github')).toEqual(['matches protected path ".github/**"'])
    expect(reasonsFor(violations, '.github/workflows')).toContain(
      'matches protected path ".github/**"'
    )
  })

  it('uses the protected paths it is given instead of the default', () => {
    const policy = { protectedPaths: ['CLAUDE.md', '.claude/**', 'src/**/*.lock'] }
    const violations = checkPathPolicy(
      [
        file('claude.md'),
        file('.claude/settings.json'),
        file('src/a/b/deps.lock'),
        file('src/a/b/deps.txt'),
        file('.github/workflows/ci.yml')
      ],
      policy
    )
    expect(violations.map(violation => violation.path)).toEqual([
      'claude.md',
      '.claude/settings.json',
      'src/a/b/deps.lock'
    ])
    expect(checkPathPolicy([file('.github/workflows/ci.yml')], { protectedPaths: [] })).toEqual([])
  })

  it.each([
    ['x', '../../etc/passwd', 'symlink points outside the repository ("../../etc/passwd")'],
    ['a/b/x', '../../../etc', 'symlink points outside the repository ("../../../etc")'],
    ['x', '/etc/passwd', 'symlink points to an absolute path ("/etc/passwd")'],
    ['x', 'C:\\Windows', 'symlink points to an absolute path ("C:\\\\Windows")'],
    ['x', 'a/../../x', 'symlink points outside the repository ("a/../../x")'],
    ['x', '..', 'symlink points outside the repository ("..")'],
    ['d/x', '..\\..\\etc', 'symlink points outside the repository ("..\\\\..\\\\etc")'],
    [
      'd/x',
      'up/../..',
      'symlink target has ".." after a name, which may climb through another link ("up/../..")'
    ],
    ['x', '.git/config', 'symlink points into .git (".git/config")'],
    ['d/x', '../.GIT', 'symlink points into .git ("../.GIT")'],
    ['x', '', 'symlink has an empty or invalid target']
  ])('refuses the link %j -> %j', (path, target, reason) => {
    expect(reasonsFor(checkPathPolicy([link(path, target)]), path)).toEqual([reason])
  })

  it('refuses a link whose target it was not told (fails closed)', () => {
    const unknown = file('x', { newMode: '120000' })
    expect(reasonsFor(checkPathPolicy([unknown]), 'x')).toEqual(['symlink target unknown'])
  })

  it('refuses .gitmodules and friends as links, even when they point inside', () => {
    const violations = checkPathPolicy(
      [link('.gitmodules', 'x'), link('sub/.gitattributes', 'y')],
      {
        protectedPaths: []
      }
    )
    expect(reasonsFor(violations, '.gitmodules')).toEqual(['.gitmodules may not be a symlink'])
    expect(reasonsFor(violations, 'sub/.gitattributes')).toEqual([
      '.gitattributes may not be a symlink'
    ])
  })

  it('does not judge the old target of a deleted link', () => {
    const deleted = file('x', {
      status: 'deleted',
      oldMode: '120000',
      newMode: undefined,
      size: undefined
    })
    expect(checkPathPolicy([deleted])).toEqual([])
  })

  it('refuses files over the size limit, 50 MiB by default', () => {
    expect(DEFAULT_MAX_FILE_BYTES).toBe(50 * 1024 * 1024)
    const violations = checkPathPolicy([
      file('big.bin', { size: DEFAULT_MAX_FILE_BYTES + 1, binary: true }),
      file('just-fits.bin', { size: DEFAULT_MAX_FILE_BYTES, binary: true })
    ])
    expect(violations).toEqual([
      {
        path: 'big.bin',
        reason: 'file is 50.0 MiB (52428801 bytes), over the 50.0 MiB (52428800 bytes) limit'
      }
    ])
    expect(checkPathPolicy([file('a', { size: 11 })], { maxFileBytes: 10 })).toHaveLength(1)
  })

  it('refuses names that were not valid UTF-8', () => {
    expect(reasonsFor(checkPathPolicy([file('bad\ufffdname')]), 'bad\ufffdname')).toEqual([
      'file name is not valid UTF-8'
    ])
  })
})

describe('the default protected paths', () => {
  it.each([
    // GitHub: workflows, composite actions, CODEOWNERS, dependabot, any other configuration.
    '.github/workflows/ci.yml',
    '.github/actions/x/action.yml',
    '.github/CODEOWNERS',
    '.github/dependabot.yml',
    '.github/ISSUE_TEMPLATE/bug.md',
    '.GitHub/Actions/x/action.yml',
    '.github',
    'CODEOWNERS',
    'docs/CODEOWNERS',
    // Local actions anywhere in the repository, which `uses: ./path` runs.
    'action.yml',
    'tools/release/action.yaml',
    // Git's own controls.
    '.gitmodules',
    '.gitattributes',
    'src/generated/.gitattributes',
    // Other CI systems.
    '.gitlab-ci.yml',
    '.gitlab/ci/build.yml',
    '.circleci/config.yml',
    'Jenkinsfile',
    'ci/Jenkinsfile',
    'azure-pipelines.yml',
    '.azure-pipelines/build.yml',
    '.buildkite/pipeline.yml',
    '.travis.yml',
    'appveyor.yml',
    'bitbucket-pipelines.yml',
    '.drone.yml',
    '.woodpecker/test.yml',
    '.pre-commit-config.yaml'
  ])('protects %j', filePath => {
    expect(checkPathPolicy([file(filePath)]).map(v => v.path)).toEqual([filePath])
  })

  it.each([
    'src/index.ts',
    'README.md',
    '.gitignore',
    'docs/github-actions.md',
    'notes/.github-x/y',
    'src/action.yml.template',
    'my-actions/action.yml.bak',
    'Jenkinsfile.md',
    'docs/gitlab-ci.yml.example',
    '.circleci-notes.txt',
    'package.json'
  ])('leaves %j publishable', filePath => {
    expect(checkPathPolicy([file(filePath)])).toEqual([])
  })

  it('are the ones action.yml and publish/action.yml name', () => {
    for (const file of ['action.yml', 'publish/action.yml']) {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8').replace(/\s+/g, ' ')
      for (const pattern of DEFAULT_PROTECTED_PATHS)
        expect([file, text]).toEqual([
          file,
          expect.stringContaining(` ${pattern},`.replace(/,$/, ''))
        ])
    }
  })

  it('keeps the defaults when protected-paths holds only ! entries, replaces them otherwise', () => {
    expect(resolveProtectedPaths([])).toEqual([...DEFAULT_PROTECTED_PATHS])
    expect(resolveProtectedPaths(['!.github/dependabot.yml'])).toEqual([
      ...DEFAULT_PROTECTED_PATHS,
      '!.github/dependabot.yml'
    ])
    expect(resolveProtectedPaths(['src/**', '!src/ok.ts'])).toEqual(['src/**', '!src/ok.ts'])
  })

  it('allows a path on purpose with a ! entry, the last matching entry deciding', () => {
    const policy = { protectedPaths: resolveProtectedPaths(['!.github/dependabot.yml']) }
    const violations = checkPathPolicy(
      [
        file('.github/dependabot.yml'),
        file('.github/Dependabot.yml'),
        file('.github/dependabot.yml\u200c'),
        file('.github/workflows/ci.yml')
      ],
      policy
    )
    expect(violations.map(v => v.path)).toEqual([
      '.github/dependabot.yml\u200c',
      '.github/workflows/ci.yml'
    ])
    // Order matters: a later plain entry protects again.
    const again = { protectedPaths: ['!.github/dependabot.yml', '.github/**'] }
    expect(checkPathPolicy([file('.github/dependabot.yml')], again)).toHaveLength(1)
    expect(checkPathPolicy([file('.github/anything')], { protectedPaths: ['!**'] })).toEqual([])
  })

  it('refuses submodule pointer changes unless a ! entry allows that path', () => {
    const gitlinks = [
      file('vendor/lib', {
        status: 'modified',
        oldMode: '160000',
        newMode: '160000',
        size: undefined
      }),
      file('third_party/new', { newMode: '160000', size: undefined }),
      file('old-sub', {
        status: 'deleted',
        oldMode: '160000',
        newMode: undefined,
        size: undefined
      }),
      file('was-sub', { status: 'type-changed', oldMode: '160000', newMode: '100644' })
    ]
    const violations = checkPathPolicy(gitlinks)
    expect(violations.map(v => v.path)).toEqual([
      'vendor/lib',
      'third_party/new',
      'old-sub',
      'was-sub'
    ])
    expect(violations[0]?.reason).toBe(
      'changes a submodule pointer (mode 160000); allow it with "!vendor/lib" in protected-paths'
    )
    const allowed = { protectedPaths: resolveProtectedPaths(['!vendor/lib']) }
    expect(checkPathPolicy(gitlinks, allowed).map(v => v.path)).toEqual([
      'third_party/new',
      'old-sub',
      'was-sub'
    ])
  })
})

describe('formatViolations', () => {
  it('lists every offending path with all its reasons on one line', () => {
    const violations = checkPathPolicy([
      file('.git/config'),
      file('.github/workflows/ci.yml', { size: DEFAULT_MAX_FILE_BYTES + 1 }),
      link('escape', '/etc/passwd'),
      file('fine.txt'),
      file('line\nbreak/.GIT/x')
    ])
    const line = formatViolations(violations)
    expect(line).not.toContain('\n')
    expect(line).toContain('".git/config" (path is inside .git)')
    expect(line).toContain(
      '".github/workflows/ci.yml" (matches protected path ".github/**"; file is 50.0 MiB'
    )
    expect(line).toContain('"escape" (symlink points to an absolute path ("/etc/passwd"))')
    expect(line).toContain('"line\\nbreak/.GIT/x" (path is inside .git)')
    expect(line).not.toContain('fine.txt')
    expect(formatViolations([])).toBe('')
  })
})
