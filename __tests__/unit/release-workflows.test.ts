/**
 * The release and CLI-bump workflows, read with GitHub's own parser (@actions/workflow-parser):
 * they parse and convert; every `uses:` in every workflow of ours is pinned by a full commit SHA
 * (with its version in a comment, which Dependabot keeps current); each job asks for the least
 * permissions it needs; the release builds what scripts/release-image.ts says the release is
 * (platforms, Dockerfile, attestations) and scans, attests and records it; and
 * docker/prebuilt.json agrees with the Dockerfile beside it.
 */
import { describe, expect, it } from '@jest/globals'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow
} from '@actions/workflow-parser'
import type { FileReference } from '@actions/workflow-parser/workflows/file-reference'
import { list, obj, toPlain, type Obj } from '../helpers/workflow-plain.js'
import {
  RELEASE_DOCKERFILE,
  RELEASE_PLATFORMS,
  recordProblems,
  releaseRecord
} from '../../scripts/release-image.js'
import {
  imageSourceDigest,
  parsePrebuiltRecord,
  writePrebuiltRecord
} from '../../src/image/prebuilt-record.js'
import { REPO_ROOT } from '../helpers/run-action.js'

const WORKFLOWS_DIR = '.github/workflows'
const RELEASE = `${WORKFLOWS_DIR}/release.yml`
const CLI_BUMP = `${WORKFLOWS_DIR}/cli-bump.yml`
/** Our own action, which the reusable workflow runs by its published name (never `./`). */
const PUBLISHED = 'org/claude-sandbox-action'
const SHA = /^[0-9a-f]{40}$/

function read(relative: string): string {
  return readFileSync(path.join(REPO_ROOT, relative), 'utf8')
}

function parsed(relative: string) {
  const result = parseWorkflow(
    { name: relative, content: read(relative) },
    new NoOperationTraceWriter()
  )
  return {
    result,
    errors: result.context.errors.getErrors().map(error => error.message),
    doc: obj(result.value ? toPlain(result.value) : null)
  }
}

const fileProvider = {
  async getFileContent(ref: FileReference): Promise<{ name: string; content: string }> {
    if ('repository' in ref) throw new Error(`remote workflow ${ref.owner}/${ref.repository}`)
    const local = ref.path.replace(/^\.\//, '')
    return { name: local, content: read(local) }
  }
}

interface Uses {
  file: string
  job: string
  step?: number
  uses: string
  with: Obj
}

/** Every `uses:` of a workflow: job-level (reusable workflows) and step-level. */
function usesOf(file: string): Uses[] {
  const { doc } = parsed(file)
  return Object.entries(obj(doc.jobs)).flatMap(([job, body]) => {
    const jobUses = obj(body).uses
    const own: Uses[] =
      typeof jobUses === 'string' ? [{ file, job, uses: jobUses, with: obj(obj(body).with) }] : []
    const steps = list(obj(body).steps).flatMap((step, index) => {
      const uses = obj(step).uses
      return typeof uses === 'string'
        ? [{ file, job, step: index, uses, with: obj(obj(step).with) }]
        : []
    })
    return [...own, ...steps]
  })
}

function step(file: string, prefix: string): Uses {
  const found = usesOf(file).filter(u => u.uses.startsWith(`${prefix}@`))
  expect([prefix, found.length]).toEqual([prefix, 1])
  return found[0] as Uses
}

function runs(file: string, job: string): string[] {
  const { doc } = parsed(file)
  return list(obj(obj(doc.jobs)[job]).steps)
    .map(s => obj(s).run)
    .filter((run): run is string => typeof run === 'string')
}

const ALL_WORKFLOWS = readdirSync(path.join(REPO_ROOT, WORKFLOWS_DIR))
  .filter(name => /\.ya?ml$/.test(name))
  .sort()
  .map(name => `${WORKFLOWS_DIR}/${name}`)

describe('the release and CLI-bump workflows parse with GitHub’s parser', () => {
  for (const file of [RELEASE, CLI_BUMP]) {
    it(`${file} parses and converts with no errors`, async () => {
      const { result, errors } = parsed(file)
      expect(errors).toEqual([])
      expect(result.value).toBeDefined()
      if (!result.value) return
      const template = await convertWorkflowTemplate(result.context, result.value, fileProvider, {
        fetchReusableWorkflowDepth: 1
      })
      expect((template.errors ?? []).map(error => error.Message)).toEqual([])
      expect(Object.keys(template.jobs ?? {}).length).toBeGreaterThan(0)
    })
  }
})

describe('every action our workflows use is pinned by a full commit SHA', () => {
  it('finds the workflows, the release and the CLI bump among them', () => {
    expect(ALL_WORKFLOWS).toEqual(
      expect.arrayContaining([RELEASE, CLI_BUMP, `${WORKFLOWS_DIR}/ci.yml`])
    )
  })

  for (const file of ALL_WORKFLOWS) {
    it(`${file}: every uses: is ./local, our own published action, or owner/repo@<40-hex SHA> # version`, () => {
      const text = read(file)
      const all = usesOf(file)
      // The raw text agrees with the parser's view (no `uses:` the walk above missed).
      const rawCount = text.split('\n').filter(line => /^\s*(?:-\s+)?uses:\s/.test(line)).length
      expect([file, all.length]).toEqual([file, rawCount])
      for (const use of all) {
        const where = `${file} job ${use.job}${use.step === undefined ? '' : ` step ${use.step + 1}`}: ${use.uses}`
        if (use.uses.startsWith('./')) continue
        // Our own action at its major tag: the reusable workflow must run the released action
        // (the SHA of a release cannot be written into the tree it is made from).
        if (use.uses.startsWith(`${PUBLISHED}@`) || use.uses.startsWith(`${PUBLISHED}/`)) {
          expect([where, use.uses.split('@')[1]]).toEqual([where, 'v1'])
          continue
        }
        const [name, ref = ''] = use.uses.split('@')
        expect([where, /^[\w.-]+\/[\w.-]+(\/.*)?$/.test(name ?? '')]).toEqual([where, true])
        expect([where, SHA.test(ref)]).toEqual([where, true])
        // The version it stands for, as a comment Dependabot updates with the SHA.
        expect([
          where,
          new RegExp(`uses: ${use.uses}\\s+# v?\\d+\\.\\d+\\.\\d+`).test(text)
        ]).toEqual([where, true])
      }
    })
  }

  it('the check fails on a tag (it can fail)', () => {
    const bad = 'jobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v5\n'
    const ref = /@([^\s#]+)/.exec(bad)?.[1] ?? ''
    expect(SHA.test(ref)).toBe(false)
  })

  it('Dependabot watches npm and the actions', () => {
    const text = read('.github/dependabot.yml')
    expect(text).toMatch(/package-ecosystem: npm\n\s+directory: \//)
    expect(text).toMatch(/package-ecosystem: github-actions\n\s+directory: \//)
  })
})

describe('least permissions per job', () => {
  const expected: Record<string, Record<string, Obj>> = {
    [RELEASE]: {
      prepare: { contents: 'read' },
      checks: { contents: 'read' },
      image: {
        contents: 'read',
        packages: 'write',
        'id-token': 'write',
        attestations: 'write'
      },
      publish: { contents: 'write' }
    },
    [CLI_BUMP]: {
      check: { contents: 'read' },
      test: { contents: 'read' },
      'pull-request': { contents: 'write', 'pull-requests': 'write' }
    }
  }
  for (const [file, jobs] of Object.entries(expected)) {
    it(`${file}: nothing at the top, each job exactly what it needs`, () => {
      const { doc } = parsed(file)
      expect(doc.permissions).toEqual({})
      const actual = Object.fromEntries(
        Object.entries(obj(doc.jobs)).map(([job, body]) => [job, obj(body).permissions ?? null])
      )
      expect(actual).toEqual(jobs)
    })
  }

  it('the jobs that test or build never hold a write token to the repository', () => {
    for (const [file, job] of [
      [RELEASE, 'checks'],
      [RELEASE, 'image'],
      [CLI_BUMP, 'test']
    ] as const) {
      const permissions = obj(obj(obj(parsed(file).doc.jobs)[job]).permissions)
      expect([file, job, permissions.contents]).toEqual([file, job, 'read'])
    }
  })

  it('checkouts keep no credentials', () => {
    for (const file of [RELEASE, CLI_BUMP])
      for (const use of usesOf(file).filter(u => u.uses.startsWith('actions/checkout@')))
        expect([file, use.job, String(use.with['persist-credentials'])]).toEqual([
          file,
          use.job,
          'false'
        ])
  })
})

describe('release.yml', () => {
  const { doc } = parsed(RELEASE)
  const jobs = obj(doc.jobs)

  it('starts on a vX.Y.Z tag or by hand with a version', () => {
    const on = obj(doc.on)
    expect(obj(on.push).tags).toEqual(['v*.*.*'])
    expect(obj(obj(obj(on.workflow_dispatch).inputs).version).required).toBe(true)
  })

  it('runs the checks (the project’s CI) before building, and publishes only after the image', () => {
    expect(obj(jobs.checks).uses).toBe('./.github/workflows/ci.yml')
    expect(obj(jobs.image).needs).toEqual(['prepare', 'checks'])
    expect(obj(jobs.publish).needs).toEqual(['prepare', 'image'])
    expect(read(`${WORKFLOWS_DIR}/ci.yml`)).toMatch(/\n {2}workflow_call:\n/)
  })

  it('builds the bundled Dockerfile for both release platforms with QEMU and buildx, with an SBOM and max-mode provenance', () => {
    const image = usesOf(RELEASE).filter(u => u.job === 'image')
    const order = image.map(u => u.uses.split('@')[0])
    const at = (name: string): number => order.indexOf(name)
    expect(at('docker/setup-qemu-action')).toBeGreaterThanOrEqual(0)
    expect(at('docker/setup-qemu-action')).toBeLessThan(at('docker/build-push-action'))
    expect(at('docker/setup-buildx-action')).toBeLessThan(at('docker/build-push-action'))
    expect(at('docker/login-action')).toBeLessThan(at('docker/build-push-action'))
    const build = step(RELEASE, 'docker/build-push-action').with
    expect(build.platforms).toBe(RELEASE_PLATFORMS.join(','))
    expect(build.file).toBe(`docker/${RELEASE_DOCKERFILE}`)
    expect(build.context).toBe('docker')
    expect(String(build.push)).toBe('true')
    expect(String(build.sbom)).toBe('true')
    expect(build.provenance).toBe('mode=max')
    // Default build arguments: only the revision label, nothing that changes the image.
    // (GitHub's parser turns `VCS_REF=${{ github.sha }}` into a format() expression.)
    const buildArgs = String(build['build-args'])
    expect(buildArgs).toContain('VCS_REF=')
    expect(buildArgs).toContain('github.sha')
    expect(buildArgs.match(/[A-Z_]+=/g)).toEqual(['VCS_REF='])
    expect(String(build.tags)).toMatch(/steps\.name\.outputs\.image.*env\.VERSION/)
  })

  it('pushes to ghcr.io/<owner>/<repo>/agent (lower-cased)', () => {
    const script = runs(RELEASE, 'image').join('\n')
    expect(script).toContain('image=ghcr.io/${REPOSITORY,,}/agent')
    expect(step(RELEASE, 'docker/login-action').with.registry).toBe('ghcr.io')
  })

  it('fails on fixable critical vulnerabilities of the pushed digest, on every release platform', () => {
    const { doc } = parsed(RELEASE)
    const steps = list(obj(obj(doc.jobs).image).steps).map(obj)
    const scans = steps.filter(s => String(s.uses).startsWith('aquasecurity/trivy-action@'))
    expect(scans.map(s => obj(s.env).TRIVY_PLATFORM)).toEqual([...RELEASE_PLATFORMS])
    for (const scanStep of scans) {
      const scan = obj(scanStep.with)
      expect(scan['image-ref']).toContain('steps.build.outputs.digest')
      expect(String(scan['ignore-unfixed'])).toBe('true')
      expect(scan.severity).toBe('CRITICAL')
      expect(String(scan['exit-code'])).toBe('1')
      // Not v0.69.4: the Trivy release that was compromised (GHSA-69fq-xp46-6x23).
      expect(scan.version).toBe('v0.69.3')
    }
    // Scanned before the attestation and the record: a failed scan leaves no release behind.
    const index = (prefix: string): number =>
      steps.findIndex(s => String(s.uses ?? s.run).includes(prefix))
    expect(index('aquasecurity/trivy-action')).toBeLessThan(
      index('actions/attest-build-provenance')
    )
    expect(index('aquasecurity/trivy-action')).toBeLessThan(
      index('scripts/release-image.ts record')
    )
  })

  it('attests the pushed digest into the registry, so `gh attestation verify oci://…` works', () => {
    const attest = step(RELEASE, 'actions/attest-build-provenance').with
    expect(String(attest['push-to-registry'])).toBe('true')
    expect(attest['subject-digest']).toBe('${{ steps.build.outputs.digest }}')
    expect(attest['subject-name']).toBe('${{ steps.name.outputs.image }}')
  })

  it('records the digests with the script, then tags and publishes with the scripts', () => {
    expect(runs(RELEASE, 'image').join('\n')).toContain('npx tsx scripts/release-image.ts record')
    const publish = runs(RELEASE, 'publish').join('\n')
    expect(publish).toContain('npx tsx scripts/release-image.ts check')
    expect(publish).toContain('bash scripts/release-tags.sh "$VERSION"')
    expect(publish).toContain('npx tsx scripts/release-notes.ts "$VERSION" CHANGELOG.md')
    expect(publish).toContain('gh release create "$TAG" --verify-tag')
    // The notes are checked before anything is built.
    expect(runs(RELEASE, 'prepare').join('\n')).toContain('scripts/release-notes.ts "$VERSION"')
  })
})

describe('cli-bump.yml', () => {
  const { doc } = parsed(CLI_BUMP)
  const jobs = obj(doc.jobs)

  it('runs on a schedule (and by hand)', () => {
    expect(list(obj(doc.on).schedule).length).toBe(1)
    expect(obj(doc.on).workflow_dispatch).toBeDefined()
  })

  it('tests the bumped tree end to end before a pull request is opened', () => {
    expect(String(obj(jobs.test).if)).toContain("needs.check.outputs.newer == 'true'")
    const test = runs(CLI_BUMP, 'test')
    const record = test.findIndex(run => run.includes('scripts/record-cli-requests.ts --version'))
    const apply = test.findIndex(run => run.includes('scripts/cli-bump.ts apply'))
    expect(record).toBeGreaterThanOrEqual(0)
    expect(apply).toBeGreaterThan(record)
    expect(test[apply]).toContain('--fixture')
    expect(test.indexOf('npm run test:unit')).toBeGreaterThan(apply)
    expect(test.indexOf('npm run test:e2e')).toBeGreaterThan(apply)
    expect(obj(jobs['pull-request']).needs).toEqual(['check', 'test'])
    const pr = runs(CLI_BUMP, 'pull-request').join('\n')
    expect(pr).toContain('scripts/cli-bump.ts apply --to "$VERSION" --fixture')
    expect(pr).toContain('gh pr create')
  })
})

describe('docker/prebuilt.json and the Dockerfile agree', () => {
  it('this tree: a released record was built from these docker/ files, or it is the placeholder', () => {
    expect(recordProblems(path.join(REPO_ROOT, 'docker'))).toEqual([])
    const record = parsePrebuiltRecord(read('docker/prebuilt.json'))
    if (Object.keys(record.platforms).length > 0) {
      expect(record.sourceDigest).toBe(imageSourceDigest(path.join(REPO_ROOT, 'docker')))
    } else {
      expect(record.sourceDigest).toBe('')
      expect(record.version).toBe('0.0.0')
    }
  })

  it('a released record stops agreeing when the Dockerfile changes (the check can fail)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'prebuilt-agree-'))
    try {
      cpSync(path.join(REPO_ROOT, 'docker'), dir, { recursive: true })
      const d = (c: string): string => `sha256:${c.repeat(64)}`
      writePrebuiltRecord(
        dir,
        releaseRecord(dir, 'ghcr.io/o/r/agent', '1.0.0', {
          'linux/amd64': d('1'),
          'linux/arm64': d('2')
        })
      )
      expect(recordProblems(dir)).toEqual([])
      const dockerfile = path.join(dir, RELEASE_DOCKERFILE)
      writeFileSync(dockerfile, `${readFileSync(dockerfile, 'utf8')}\nLABEL changed=yes\n`)
      expect(recordProblems(dir)).toEqual([
        expect.stringMatching(/^the record was built from other docker\/ files/)
      ])
      writePrebuiltRecord(
        dir,
        releaseRecord(dir, 'ghcr.io/o/r/agent', '1.0.0', { 'linux/amd64': d('1') })
      )
      expect(recordProblems(dir)).toEqual(['the record has no linux/arm64 digest'])
      writePrebuiltRecord(dir, {
        repository: 'r',
        version: '0.0.0',
        sourceDigest: d('3'),
        platforms: {}
      })
      expect(recordProblems(dir)).toEqual([
        'an unreleased record (no platforms) must have an empty sourceDigest'
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
