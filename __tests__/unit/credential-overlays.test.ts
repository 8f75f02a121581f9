import { describe, expect, it } from '@jest/globals'
import { dockerRunArgs, type ContainerSpec } from '../../src/sandbox/run-args.js'
import { sandboxNotes } from '../../src/agent/claude-args.js'

function spec(extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: 'claude-sandbox-run-42',
    runId: '42',
    image: 'claude-sandbox-agent:abc',
    workspace: '/home/runner/work/repo',
    gitPath: '/home/runner/work/repo/.git',
    socketDir: '/tmp/run-42/sockets',
    user: { uid: 1001, gid: 121 },
    home: '/home/agent',
    network: 'restricted',
    proxy: true,
    memory: '3g',
    cpus: '1.5',
    pidsLimit: 512,
    userEnv: {},
    credentialKind: 'api-key',
    command: ['claude', '-p'],
    ...extra
  }
}

const mounts = (args: string[]): string[] =>
  args.flatMap((arg, i) => (arg === '--mount' ? [args[i + 1] ?? ''] : []))

describe('the credential shield in docker run', () => {
  const overlays = [
    { source: '/tmp/run/shield/gitconfig-0', target: '.git/config' },
    { source: '/tmp/run/shield/empty', target: 'sub dir/gha-creds-a,b.json' },
    { source: '/home/runner/work/main/.git', target: '/home/runner/work/main/.git' }
  ]

  it('mounts each overlay read-only, in the working tree at /workspace and at its alias', () => {
    const args = dockerRunArgs(spec({ overlays, workspaceAlias: '/home/runner/work/repo' }))
    expect(mounts(args)).toEqual([
      'type=bind,source=/tmp/run/shield/gitconfig-0,target=/workspace/.git/config,readonly',
      'type=bind,source=/tmp/run/shield/gitconfig-0,target=/home/runner/work/repo/.git/config,readonly',
      // --mount is CSV: a comma in a path is quoted, not a new field.
      'type=bind,source=/tmp/run/shield/empty,"target=/workspace/sub dir/gha-creds-a,b.json",readonly',
      'type=bind,source=/tmp/run/shield/empty,"target=/home/runner/work/repo/sub dir/gha-creds-a,b.json",readonly',
      'type=bind,source=/home/runner/work/main/.git,target=/home/runner/work/main/.git,readonly'
    ])
    // After the working tree and its .git, so they land on top.
    const lastVolume = args.lastIndexOf('--volume')
    expect(args.indexOf('--mount')).toBeGreaterThan(lastVolume)
  })

  it('adds nothing without overlays', () => {
    expect(mounts(dockerRunArgs(spec()))).toEqual([])
  })

  it('tells the agent which files it sees empty, and that the git config has no credentials', () => {
    const notes = sandboxNotes({
      network: 'restricted',
      hiddenFiles: ['gha-creds-x.json', '.npmrc'],
      gitConfigSanitised: true
    })
    expect(notes).toContain('`gha-creds-x.json`, `.npmrc`')
    expect(notes).toMatch(/empty and read-only/)
    expect(notes).toMatch(/git config you see has its credentials/)
    expect(sandboxNotes('restricted')).not.toMatch(/empty and read-only/)
  })
})
