import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  buildxArgs,
  classicBuildArgs,
  explainBuildFailure,
  prepareBundledContext,
  type BuildRequest
} from '../../src/image/build.js'
import {
  baseImageRefs,
  bundledBuildArgs,
  dockerfileDefaultBase,
  effectiveBuildArgs
} from '../../src/image/prepare.js'
import { ConfigurationError, errorMessage } from '../../src/errors.js'
import type { ImageSettings } from '../../src/settings.js'

function request(extra: Partial<BuildRequest> = {}): BuildRequest {
  return {
    dockerfile: '/ctx/Dockerfile.agent',
    context: '/ctx',
    tag: 'claude-sandbox-agent:abc',
    buildArgs: { BASE_IMAGE: 'debian:12.12-slim', CLAUDE_CODE_VERSION: '2.1.330', X: 'a=b c' },
    iidFile: '/run/image.iid',
    ...extra
  }
}

describe('buildxArgs', () => {
  it('loads the image, writes the id file and passes each build arg in order, context last', () => {
    expect(buildxArgs(request())).toEqual([
      'buildx',
      'build',
      '--load',
      '--progress=plain',
      '--iidfile',
      '/run/image.iid',
      '--file',
      '/ctx/Dockerfile.agent',
      '--tag',
      'claude-sandbox-agent:abc',
      '--build-arg',
      'BASE_IMAGE=debian:12.12-slim',
      '--build-arg',
      'CLAUDE_CODE_VERSION=2.1.330',
      '--build-arg',
      'X=a=b c',
      '/ctx'
    ])
  })

  it('hands the CA bundle over as a build secret only when one is given', () => {
    expect(buildxArgs(request())).not.toContain('--secret')
    const args = buildxArgs(request({ caSecretFile: '/run/ca.pem' }))
    const at = args.indexOf('--secret')
    expect(args[at + 1]).toBe('id=ca-certificates,src=/run/ca.pem')
    expect(args.at(-1)).toBe('/ctx')
  })
})

describe('classicBuildArgs', () => {
  it('keeps --iidfile and has neither --load nor a secret', () => {
    const args = classicBuildArgs(request({ caSecretFile: '/run/ca.pem' }))
    expect(args).toEqual([
      'build',
      '--force-rm',
      '--iidfile',
      '/run/image.iid',
      '--file',
      '/ctx/Dockerfile.agent',
      '--tag',
      'claude-sandbox-agent:abc',
      '--build-arg',
      'BASE_IMAGE=debian:12.12-slim',
      '--build-arg',
      'CLAUDE_CODE_VERSION=2.1.330',
      '--build-arg',
      'X=a=b c',
      '/ctx'
    ])
    expect(args.join(' ')).not.toMatch(/--load|--secret|ca\.pem/)
  })
})

describe('explainBuildFailure', () => {
  const args = { CLAUDE_CODE_VERSION: '9.9.9' }

  it('names a base without apt-get as unsupported, saying what is', () => {
    const output =
      'Step 6/21 : RUN set -eu; echo "claude-sandbox: unsupported base image: no apt-get/dpkg (only ...)" >&2\n\x1b[91mclaude-sandbox: unsupported base image: no apt-get/dpkg (only Debian and Ubuntu based images are supported)\n\x1b[0mThe command returned a non-zero code: 70'
    const error = explainBuildFailure(output, { BASE_IMAGE: 'alpine:3.20' })
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(errorMessage(error)).toBe(
      'The base image alpine:3.20 is not supported: no apt-get/dpkg (only Debian and Ubuntu based images are supported). Use a Debian or Ubuntu based image for `base-image` (Alpine and other distributions are not supported), or a prebuilt `image` that has everything'
    )
  })

  it('names a claude-code version npm does not have, and how to list the real ones', () => {
    const outputs = [
      'npm error code ETARGET\nnpm error notarget No matching version found for @anthropic-ai/claude-code@9.9.9.',
      'npm ERR! code ETARGET'
    ]
    for (const output of outputs) {
      const error = explainBuildFailure(output, args)
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(error.message).toBe('claude-code-version 9.9.9 does not exist in the npm registry')
      expect((error as ConfigurationError).remedy).toContain(
        'npm view @anthropic-ai/claude-code versions'
      )
    }
  })

  it('points a TLS-inspecting proxy at the ca-certificates input', () => {
    const error = explainBuildFailure(
      'npm error code SELF_SIGNED_CERT_IN_CHAIN\nnpm error self-signed certificate in certificate chain',
      args
    )
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as ConfigurationError).remedy).toContain('`ca-certificates`')
  })

  it('points a base image that cannot be pulled at BASE_IMAGE / BUILDER_IMAGE', () => {
    const outputs = [
      'Step 1/20 : FROM nosuch/debian:1\npull access denied for nosuch/debian, repository does not exist',
      '#3 ERROR: failed to solve: debian:99: failed to resolve source metadata for docker.io/library/debian:99: not found'
    ]
    for (const output of outputs) {
      const error = explainBuildFailure(output, args)
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(error.message).toContain('could not get a base image')
      // The cause is the output's last line.
      expect(error.message).toContain(output.split('\n').at(-1) ?? '')
      expect((error as ConfigurationError).remedy).toContain('BASE_IMAGE / BUILDER_IMAGE')
    }
  })

  it('reports anything else as a plain error with the last three lines', () => {
    const error = explainBuildFailure(
      'Step 5/20 : RUN make\n one\n\ntwo  \nthree\nmake: *** [all] Error 2\n',
      args
    )
    expect(error).not.toBeInstanceOf(ConfigurationError)
    expect(error.message).toBe('docker build failed with: two | three | make: *** [all] Error 2')
  })
})

describe('prepareBundledContext', () => {
  let root: string
  let dockerDir: string
  let runDir: string

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'unit-build-args-'))
    dockerDir = path.join(root, 'docker')
    runDir = path.join(root, 'run')
    mkdirSync(dockerDir)
    mkdirSync(runDir)
    writeFileSync(path.join(dockerDir, 'Dockerfile.agent'), 'FROM scratch\n')
    writeFileSync(path.join(dockerDir, 'agent-entrypoint.sh'), '#!/bin/sh\nexec "$@"\n', {
      mode: 0o644
    })
    writeFileSync(path.join(dockerDir, 'unrelated.txt'), 'not part of the context')
  })

  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('copies the Dockerfile and an executable entrypoint, and no CA material', () => {
    const context = prepareBundledContext(dockerDir, runDir)
    expect(path.dirname(context)).toBe(runDir)
    expect(readFileSync(path.join(context, 'Dockerfile.agent'), 'utf8')).toBe('FROM scratch\n')
    const entrypoint = path.join(context, 'agent-entrypoint.sh')
    expect(readFileSync(entrypoint, 'utf8')).toBe('#!/bin/sh\nexec "$@"\n')
    expect(statSync(entrypoint).mode & 0o777).toBe(0o755)
    // The image's build does not use the CA bundle (npm runs where the CLI is fetched).
    expect(existsSync(path.join(context, 'sandbox-ca.pem'))).toBe(false)
    expect(existsSync(path.join(context, 'unrelated.txt'))).toBe(false)
  })
})

describe('baseImageRefs', () => {
  const dockerfile = [
    'ARG BASE_IMAGE=debian:12.12-slim',
    'ARG BUILDER_IMAGE="node:22.20.0-bookworm-slim"',
    'FROM ${BUILDER_IMAGE} AS builder',
    'RUN echo FROM not-an-image',
    'from --platform=$BUILDPLATFORM $BASE_IMAGE as runtime',
    'FROM registry.example/tools:1.0'
  ].join('\n')

  it('resolves FROM variables from ARG defaults, skipping flags and stage names', () => {
    expect(baseImageRefs(dockerfile, {})).toEqual([
      'node:22.20.0-bookworm-slim',
      'debian:12.12-slim',
      'registry.example/tools:1.0'
    ])
  })

  it('prefers build args over ARG defaults', () => {
    expect(baseImageRefs(dockerfile, { BASE_IMAGE: 'mirror.example/debian:12' })).toEqual([
      'node:22.20.0-bookworm-slim',
      'mirror.example/debian:12',
      'registry.example/tools:1.0'
    ])
  })
})

describe('effectiveBuildArgs', () => {
  function image(extra: Partial<ImageSettings> = {}): ImageSettings {
    return {
      dockerfile: '/action/docker/Dockerfile.agent',
      bundledDockerfile: true,
      buildArgs: {},
      extraPackages: [],
      cache: true,
      ...extra
    }
  }

  it('always sets CLAUDE_CODE_VERSION from its argument, over a user build arg', () => {
    expect(
      effectiveBuildArgs(image({ buildArgs: { CLAUDE_CODE_VERSION: '1.0.0' } }), '2.1.5')
    ).toEqual({ CLAUDE_CODE_VERSION: '2.1.5' })
  })

  it('joins extra packages with spaces only when some are given and keeps user args', () => {
    expect(
      effectiveBuildArgs(
        image({ buildArgs: { BASE_IMAGE: 'debian:12' }, extraPackages: ['make', 'gcc'] }),
        '2.1.330'
      )
    ).toEqual({
      BASE_IMAGE: 'debian:12',
      CLAUDE_CODE_VERSION: '2.1.330',
      EXTRA_PACKAGES: 'make gcc'
    })
    expect(effectiveBuildArgs(image(), '2.1.330')).not.toHaveProperty('EXTRA_PACKAGES')
  })
})

describe('bundledBuildArgs (the bundled Dockerfile: no CLI in the image)', () => {
  function image(extra: Partial<ImageSettings> = {}): ImageSettings {
    return {
      dockerfile: '/action/docker/Dockerfile.agent',
      bundledDockerfile: true,
      buildArgs: {},
      extraPackages: [],
      cache: true,
      ...extra
    }
  }

  it('has neither the CLI version nor the builder image: a CLI bump leaves the image alone', () => {
    const args = bundledBuildArgs(
      image({ buildArgs: { CLAUDE_CODE_VERSION: '1.0.0', BUILDER_IMAGE: 'node:22', X: '1' } }),
      'debian:13-slim',
      false
    )
    expect(args).toEqual({ BASE_IMAGE: 'debian:13-slim', X: '1' })
  })

  it('keeps a project base layered and unslimmed unless the user says otherwise', () => {
    expect(bundledBuildArgs(image(), 'node:22-bookworm', true)).toEqual({
      BASE_IMAGE: 'node:22-bookworm',
      LAYOUT: 'layered',
      SLIM: 'false'
    })
    expect(
      bundledBuildArgs(image({ buildArgs: { LAYOUT: 'flat', SLIM: 'true' } }), 'b:1', true)
    ).toEqual({ BASE_IMAGE: 'b:1', LAYOUT: 'flat', SLIM: 'true' })
  })

  it('passes extra packages, space-separated', () => {
    expect(bundledBuildArgs(image({ extraPackages: ['make', 'gcc'] }), 'b:1', false)).toEqual({
      BASE_IMAGE: 'b:1',
      EXTRA_PACKAGES: 'make gcc'
    })
  })

  it("reads the bundled Dockerfile's default base", () => {
    const text = readFileSync(path.join(process.cwd(), 'docker', 'Dockerfile.agent'), 'utf8')
    expect(dockerfileDefaultBase(text)).toMatch(/^debian:13[.\w-]*slim$/)
    expect(dockerfileDefaultBase('FROM scratch\n')).toBeUndefined()
  })
})
