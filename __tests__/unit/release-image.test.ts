// The release's pure parts: the buildx argv for both published platforms (this machine cannot
// run a multi-platform build: the docker driver builds one platform, see
// __tests__/e2e/release-image.test.ts for the real single-platform build and push), reading
// per-platform digests out of a registry's manifest, the record, and CHANGELOG → release notes.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import {
  platformDigests,
  RELEASE_PLATFORMS,
  releaseBuildxArgs,
  releaseClassicArgs,
  releaseRecord
} from '../../scripts/release-image.js'
import { changelogSection, majorTag, releaseVersion } from '../../scripts/release-notes.js'
import { imageSourceDigest, parsePrebuiltRecord } from '../../src/image/prebuilt-record.js'
import { REPO_ROOT } from '../helpers/run-action.js'

const DOCKER_DIR = path.join(REPO_ROOT, 'docker')
const d = (c: string): string => `sha256:${c.repeat(64)}`

describe('releaseBuildxArgs', () => {
  const release = {
    dockerDir: '/src/docker',
    repository: 'ghcr.io/org/claude-sandbox-action/agent',
    version: '1.4.0',
    platforms: RELEASE_PLATFORMS,
    buildArgs: { VCS_REF: 'abc123' },
    attestations: true,
    metadataFile: '/tmp/meta.json'
  }

  it('builds linux/amd64 and linux/arm64 in one push, with an SBOM and max-mode provenance', () => {
    expect(releaseBuildxArgs(release)).toEqual([
      'buildx',
      'build',
      '--progress=plain',
      '--file',
      '/src/docker/Dockerfile.agent',
      '--platform',
      'linux/amd64,linux/arm64',
      '--tag',
      'ghcr.io/org/claude-sandbox-action/agent:1.4.0',
      '--build-arg',
      'VCS_REF=abc123',
      '--sbom=true',
      '--provenance=mode=max',
      '--metadata-file',
      '/tmp/meta.json',
      '--push',
      '/src/docker'
    ])
  })

  it('turns attestations off explicitly for a builder that cannot make them (docker driver)', () => {
    const args = releaseBuildxArgs({ ...release, platforms: ['linux/amd64'], attestations: false })
    expect(args).toContain('--sbom=false')
    expect(args).toContain('--provenance=false')
    expect(args[args.indexOf('--platform') + 1]).toBe('linux/amd64')
  })

  it('refuses a version that is not MAJOR.MINOR.PATCH and an empty platform list', () => {
    expect(() => releaseBuildxArgs({ ...release, version: 'v1.4' })).toThrow(/MAJOR\.MINOR\.PATCH/)
    expect(() => releaseBuildxArgs({ ...release, platforms: [] })).toThrow(/no platform/)
  })

  it('the classic builder fallback: one platform, tag, build args, the docker/ context', () => {
    expect(releaseClassicArgs({ ...release, platforms: ['linux/amd64'] })).toEqual([
      'build',
      '--force-rm',
      '--file',
      '/src/docker/Dockerfile.agent',
      '--tag',
      'ghcr.io/org/claude-sandbox-action/agent:1.4.0',
      '--build-arg',
      'VCS_REF=abc123',
      '/src/docker'
    ])
  })
})

describe('platformDigests', () => {
  it('reads each platform’s image manifest from an index, leaving out attestation manifests', () => {
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { digest: d('1'), platform: { os: 'linux', architecture: 'amd64' } },
        { digest: d('2'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        {
          digest: d('3'),
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: {
            'vnd.docker.reference.type': 'attestation-manifest',
            'vnd.docker.reference.digest': d('1')
          }
        },
        { digest: d('4'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }
      ]
    })
    expect(platformDigests(index, RELEASE_PLATFORMS)).toEqual({
      'linux/amd64': d('1'),
      'linux/arm64': d('2'),
      'linux/arm/v7': d('4')
    })
  })

  it('a single image manifest is the one platform built, named by the digest of its bytes', () => {
    const raw = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { digest: d('c') },
      layers: []
    })
    const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`
    expect(platformDigests(raw, ['linux/amd64'])).toEqual({ 'linux/amd64': digest })
    expect(() => platformDigests(raw, RELEASE_PLATFORMS)).toThrow(/one image manifest/)
    expect(() => platformDigests('{"errors":[]}', ['linux/amd64'])).toThrow(/neither/)
  })
})

describe('releaseRecord', () => {
  it('ties the digests to the docker/ files and round-trips through the record parser', () => {
    const record = releaseRecord(DOCKER_DIR, 'ghcr.io/o/r/agent', '1.0.0', {
      'linux/arm64': d('2'),
      'linux/amd64': d('1')
    })
    expect(record.sourceDigest).toBe(imageSourceDigest(DOCKER_DIR))
    expect(Object.keys(record.platforms)).toEqual(['linux/amd64', 'linux/arm64'])
    expect(parsePrebuiltRecord(JSON.stringify(record))).toEqual(record)
    expect(() => releaseRecord(DOCKER_DIR, 'r', '1.0.0', {})).toThrow(/no platform digest/)
  })
})

describe('release notes and versions', () => {
  const CHANGELOG = [
    '# Changelog',
    '',
    '## [Unreleased]',
    '',
    '### Added',
    '- something planned',
    '',
    '## [1.2.0] - 2026-12-01',
    '',
    '### Added',
    '- prebuilt image',
    '',
    '### Fixed',
    '- a bug',
    '',
    '## [1.1.0] - 2026-11-01',
    '',
    '- older',
    '',
    '[Unreleased]: https://github.com/org/claude-sandbox-action/compare/v1.2.0...HEAD',
    '[1.2.0]: https://github.com/org/claude-sandbox-action/compare/v1.1.0...v1.2.0',
    '[1.1.0]: https://github.com/org/claude-sandbox-action/releases/tag/v1.1.0',
    ''
  ].join('\n')

  it('takes exactly the version’s section', () => {
    expect(changelogSection(CHANGELOG, '1.2.0')).toBe(
      '### Added\n- prebuilt image\n\n### Fixed\n- a bug\n'
    )
    // The last section stops at the link references.
    expect(changelogSection(CHANGELOG, '1.1.0')).toBe('- older\n')
  })

  it('refuses a version with no section, or an empty one, naming the remedy', () => {
    expect(() => changelogSection(CHANGELOG, '1.3.0')).toThrow(
      'CHANGELOG.md has no section for 1.3.0: add "## [1.3.0] - YYYY-MM-DD"'
    )
    // 1.2.0 must not match 1.2.01 or 11.2.0.
    expect(() => changelogSection('## [11.2.0]\n- x\n', '1.2.0')).toThrow(/no section/)
    expect(() => changelogSection('## [1.2.0]\n\n## [1.1.0]\n- x\n', '1.2.0')).toThrow(/empty/)
  })

  it('reads the version from a tag or a ref, and names the major tag', () => {
    expect(releaseVersion('v1.2.3')).toBe('1.2.3')
    expect(releaseVersion('refs/tags/v10.0.1')).toBe('10.0.1')
    expect(releaseVersion('1.2.3')).toBe('1.2.3')
    expect(() => releaseVersion('v1.2')).toThrow(/vMAJOR\.MINOR\.PATCH/)
    expect(() => releaseVersion('v1.2.3-rc.1')).toThrow(/not a release version/)
    expect(majorTag('1.2.3')).toBe('v1')
    expect(majorTag('v12.0.0')).toBe('v12')
  })

  it('this repository’s CHANGELOG.md: Keep a Changelog headings and an Unreleased section', () => {
    const changelog = readFileSync(path.join(REPO_ROOT, 'CHANGELOG.md'), 'utf8')
    expect(changelog).toContain('[Keep a Changelog]')
    expect(changelogSection(changelog, 'Unreleased')).toMatch(/^### Added\n\n- /)
    for (const heading of changelog.split('\n').filter(line => line.startsWith('## ')))
      expect(heading).toMatch(/^## \[(Unreleased|\d+\.\d+\.\d+)\]( - \d{4}-\d{2}-\d{2})?$/)
  })
})
