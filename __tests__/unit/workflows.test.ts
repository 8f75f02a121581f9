/**
 * The action metadata, the reusable workflow, the project's CI and every example, checked with
 * GitHub's own parser (@actions/workflow-parser): no schema errors; every `with:` key a step
 * gives one of our actions (or a well-known one) is an input of that action; every input and
 * secret given to the reusable workflow is declared by it (GitHub's converter checks this too,
 * reading the reusable workflow through a file provider); and the security properties the
 * reusable workflow promises hold in its text.
 *
 * The parser's converted model drops steps' `with:` maps, so those are read from the parsed
 * token tree, which is the YAML as GitHub reads it.
 */
import { describe, it, expect } from '@jest/globals'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow,
  type TemplateParseResult
} from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import type { FileReference } from '@actions/workflow-parser/workflows/file-reference'
import { list, obj, toPlain, type Obj } from '../helpers/workflow-plain.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const REUSABLE = '.github/workflows/claude-sandbox.yml'
const PUBLISHED = 'org/claude-sandbox-action'

function read(relative: string): string {
  return readFileSync(join(ROOT, relative), 'utf8')
}

function errorsOf(result: TemplateParseResult): string[] {
  return result.context.errors.getErrors().map(error => error.message)
}

function parsedAction(relative: string): { errors: string[]; doc: Obj } {
  const result = parseAction(
    { name: relative, content: read(relative) },
    new NoOperationTraceWriter()
  )
  return { errors: errorsOf(result), doc: obj(result.value ? toPlain(result.value) : null) }
}

function parsedWorkflow(relative: string): { result: TemplateParseResult; doc: Obj } {
  const result = parseWorkflow(
    { name: relative, content: read(relative) },
    new NoOperationTraceWriter()
  )
  return { result, doc: obj(result.value ? toPlain(result.value) : null) }
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return []
  return readdirSync(join(ROOT, dir))
    .filter(name => /\.ya?ml$/.test(name))
    .sort()
    .map(name => `${dir}/${name}`)
}

const WORKFLOWS = [...yamlFiles('.github/workflows'), ...yamlFiles('examples')]
const HAS_PUBLISH = existsSync(join(ROOT, 'publish/action.yml'))

/** Where a `uses:` of ours points in this repository. */
function ourActionFile(uses: string): string | undefined {
  if (uses === './' || uses === '.') return 'action.yml'
  if (uses === './publish') return 'publish/action.yml'
  if (uses.startsWith(`${PUBLISHED}@`)) return 'action.yml'
  if (uses.startsWith(`${PUBLISHED}/publish@`)) return 'publish/action.yml'
  return undefined
}

/** Inputs of the other actions the workflows use (their action.yml at that major version). */
const KNOWN_ACTIONS: Record<string, string[]> = {
  // The credentials steps of the keyless providers (their documented inputs, the ones used).
  'aws-actions/configure-aws-credentials@v4': [
    'aws-region',
    'role-to-assume',
    'role-session-name',
    'role-duration-seconds',
    'audience',
    'aws-access-key-id',
    'aws-secret-access-key',
    'aws-session-token',
    'web-identity-token-file',
    'output-credentials',
    'mask-aws-account-id'
  ],
  'google-github-actions/auth@v2': [
    'project_id',
    'workload_identity_provider',
    'service_account',
    'audience',
    'credentials_json',
    'create_credentials_file',
    'export_environment_variables',
    'token_format',
    'access_token_lifetime',
    'access_token_scopes',
    'id_token_audience',
    'cleanup_credentials'
  ],
  'actions/checkout@v5': [
    'repository',
    'ref',
    'token',
    'ssh-key',
    'ssh-known-hosts',
    'ssh-strict',
    'ssh-user',
    'persist-credentials',
    'path',
    'clean',
    'filter',
    'sparse-checkout',
    'sparse-checkout-cone-mode',
    'fetch-depth',
    'fetch-tags',
    'show-progress',
    'lfs',
    'submodules',
    'set-safe-directory',
    'github-server-url'
  ],
  'actions/setup-node@v4': [
    'always-auth',
    'node-version',
    'node-version-file',
    'architecture',
    'check-latest',
    'registry-url',
    'scope',
    'token',
    'cache',
    'cache-dependency-path',
    'mirror',
    'mirror-token'
  ],
  'actions/upload-artifact@v4': [
    'name',
    'path',
    'if-no-files-found',
    'retention-days',
    'compression-level',
    'overwrite',
    'include-hidden-files'
  ],
  'actions/download-artifact@v4': [
    'name',
    'path',
    'pattern',
    'merge-multiple',
    'github-token',
    'repository',
    'run-id',
    'artifact-ids'
  ],
  // The release's image job (release.yml).
  'docker/setup-qemu-action@v3': ['image', 'platforms', 'cache-image'],
  'docker/setup-buildx-action@v3': [
    'version',
    'name',
    'driver',
    'driver-opts',
    'buildkitd-flags',
    'buildkitd-config',
    'buildkitd-config-inline',
    'install',
    'use',
    'endpoint',
    'platforms',
    'append',
    'keep-state',
    'cache-binary',
    'cleanup'
  ],
  'docker/login-action@v3': ['registry', 'username', 'password', 'ecr', 'logout'],
  'docker/build-push-action@v6': [
    'add-hosts',
    'allow',
    'annotations',
    'attests',
    'build-args',
    'build-contexts',
    'builder',
    'cache-from',
    'cache-to',
    'call',
    'cgroup-parent',
    'context',
    'file',
    'labels',
    'load',
    'network',
    'no-cache',
    'no-cache-filters',
    'outputs',
    'platforms',
    'provenance',
    'pull',
    'push',
    'sbom',
    'secrets',
    'secret-envs',
    'secret-files',
    'shm-size',
    'ssh',
    'tags',
    'target',
    'ulimit',
    'github-token'
  ],
  'aquasecurity/trivy-action@v0': [
    'scan-type',
    'image-ref',
    'input',
    'scan-ref',
    'exit-code',
    'ignore-unfixed',
    'vuln-type',
    'severity',
    'format',
    'template',
    'output',
    'skip-dirs',
    'skip-files',
    'cache-dir',
    'timeout',
    'ignore-policy',
    'hide-progress',
    'list-all-pkgs',
    'scanners',
    'trivyignores',
    'github-pat',
    'trivy-config',
    'tf-vars',
    'limit-severities-for-sarif',
    'docker-host',
    'version',
    'cache',
    'skip-setup-trivy',
    'token-setup-trivy'
  ],
  'actions/attest-build-provenance@v2': [
    'subject-path',
    'subject-digest',
    'subject-name',
    'subject-checksums',
    'push-to-registry',
    'show-summary',
    'github-token'
  ]
}

/**
 * Actions pinned by commit SHA carry their version in a comment (`uses: x/y@<sha> # v5.0.0`, as
 * Dependabot keeps it): KNOWN_ACTIONS is looked up by that major version.
 */
function knownActionKey(file: string, uses: string): string {
  const [name, ref] = uses.split('@')
  if (!ref || !/^[0-9a-f]{40}$/.test(ref)) return uses
  const escaped = uses.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  const comment = new RegExp(`uses: ${escaped}\\s+#\\s*(v?\\d+)`).exec(read(file))
  return comment?.[1] ? `${name}@${comment[1].startsWith('v') ? '' : 'v'}${comment[1]}` : uses
}

/** The reusable workflow a job calls, if it is ours. */
function ourReusableWorkflow(uses: string): string | undefined {
  if (uses === `./${REUSABLE}`) return REUSABLE
  // The release runs the project's CI first (release.yml).
  if (uses === './.github/workflows/ci.yml') return '.github/workflows/ci.yml'
  if (uses.startsWith(`${PUBLISHED}/${REUSABLE}@`)) return REUSABLE
  return undefined
}

interface StepRef {
  file: string
  job: string
  index: number
  uses: string
  with: Obj
}

function stepsOf(file: string, doc: Obj): StepRef[] {
  return Object.entries(obj(doc.jobs)).flatMap(([job, body]) =>
    list(obj(body).steps).flatMap((step, index) => {
      const uses = obj(step).uses
      return typeof uses === 'string' ? [{ file, job, index, uses, with: obj(obj(step).with) }] : []
    })
  )
}

function actionInputs(relative: string): Obj {
  return obj(parsedAction(relative).doc.inputs)
}

function workflowCall(relative: string): Obj {
  return obj(obj(parsedWorkflow(relative).doc.on).workflow_call)
}

/** Resolves `uses:` of reusable workflows for GitHub's converter. */
const fileProvider = {
  async getFileContent(ref: FileReference): Promise<{ name: string; content: string }> {
    const local = 'repository' in ref ? undefined : ref.path.replace(/^\.\//, '')
    const remote =
      'repository' in ref && `${ref.owner}/${ref.repository}` === PUBLISHED ? ref.path : undefined
    const path = local ?? remote
    if (!path || !existsSync(join(ROOT, path))) throw new Error(`unknown workflow ${String(path)}`)
    return { name: path, content: read(path) }
  }
}

describe('action metadata', () => {
  it('action.yml parses with no errors', () => {
    const { errors, doc } = parsedAction('action.yml')
    expect(errors).toEqual([])
    expect(Object.keys(obj(doc.inputs))).toEqual(
      expect.arrayContaining(['prompt', 'publish', 'trigger-phrase', 'label-trigger'])
    )
  })

  const publishIt = HAS_PUBLISH ? it : it.skip
  publishIt(
    `publish/action.yml parses with no errors${HAS_PUBLISH ? '' : ' (SKIPPED: publish/action.yml does not exist yet)'}`,
    () => {
      const { errors, doc } = parsedAction('publish/action.yml')
      expect(errors).toEqual([])
      expect(Object.keys(obj(doc.inputs))).toEqual(
        expect.arrayContaining(['patch', 'execution-file', 'publish', 'github-token'])
      )
    }
  )
})

describe('workflows and examples', () => {
  it('finds the reusable workflow, CI and the three examples', () => {
    expect(WORKFLOWS).toEqual(
      expect.arrayContaining([
        REUSABLE,
        '.github/workflows/ci.yml',
        'examples/pr-comment-fix.yml',
        'examples/scheduled-maintenance.yml',
        'examples/issue-to-pr.yml',
        'examples/ci-failure-fix.yml'
      ])
    )
  })

  for (const file of WORKFLOWS) {
    describe(file, () => {
      it('parses and converts with no errors (reusable workflows it calls included)', async () => {
        const { result } = parsedWorkflow(file)
        expect(errorsOf(result)).toEqual([])
        expect(result.value).toBeDefined()
        if (!result.value) return
        const template = await convertWorkflowTemplate(result.context, result.value, fileProvider, {
          fetchReusableWorkflowDepth: 1
        })
        expect((template.errors ?? []).map(error => error.Message)).toEqual([])
      })

      it('gives every action only inputs it declares', () => {
        const { doc } = parsedWorkflow(file)
        const steps = stepsOf(file, doc)
        for (const step of steps) {
          const where = `${file} job ${step.job} step ${step.index + 1} (${step.uses})`
          const ours = ourActionFile(step.uses)
          if (ours === 'publish/action.yml' && !HAS_PUBLISH) {
            console.warn(
              `${where}: publish/action.yml does not exist yet; its inputs are unchecked`
            )
            continue
          }
          const declared = ours
            ? Object.keys(actionInputs(ours))
            : KNOWN_ACTIONS[knownActionKey(file, step.uses)]
          expect([where, declared === undefined ? 'unknown action' : 'known']).toEqual([
            where,
            'known'
          ])
          const unknown = Object.keys(step.with).filter(key => !(declared ?? []).includes(key))
          expect([where, unknown]).toEqual([where, []])
          if (ours) {
            const inputs = actionInputs(ours)
            const missing = Object.entries(inputs)
              .filter(([name, spec]) => obj(spec).required === true && !(name in step.with))
              .map(([name]) => name)
            expect([where, missing]).toEqual([where, []])
          }
        }
      })

      it('gives the reusable workflow only inputs and secrets it declares', () => {
        const { doc } = parsedWorkflow(file)
        for (const [job, body] of Object.entries(obj(doc.jobs))) {
          const uses = obj(body).uses
          if (typeof uses !== 'string') continue
          const target = ourReusableWorkflow(uses)
          expect([job, uses, target !== undefined]).toEqual([job, uses, true])
          if (!target) continue
          const call = workflowCall(target)
          const inputs = Object.keys(obj(call.inputs))
          const secrets = Object.keys(obj(call.secrets))
          const given = obj(obj(body).with)
          const unknownInputs = Object.keys(given).filter(key => !inputs.includes(key))
          expect([job, unknownInputs]).toEqual([job, []])
          const passed = obj(body).secrets
          if (passed !== 'inherit') {
            const unknownSecrets = Object.keys(obj(passed)).filter(key => !secrets.includes(key))
            expect([job, unknownSecrets]).toEqual([job, []])
          }
        }
      })

      it('sets top-level permissions and keeps no checkout credentials', () => {
        const { doc } = parsedWorkflow(file)
        expect(doc.permissions).toBeDefined()
        for (const step of stepsOf(file, doc).filter(s => s.uses.startsWith('actions/checkout@')))
          // Step inputs are strings to GitHub: `false` arrives as 'false'.
          expect([step.job, String(step.with['persist-credentials'])]).toEqual([step.job, 'false'])
      })
    })
  }
})

describe('examples/ci-failure-fix.yml', () => {
  const FILE = 'examples/ci-failure-fix.yml'
  const { doc } = parsedWorkflow(FILE)
  const job = obj(obj(doc.jobs).fix)
  const steps = list(job.steps).map(obj)

  it('starts on a completed run of CI, and only for a failed run of a same-repository pull request', () => {
    const on = obj(doc.on)
    expect(Object.keys(on)).toEqual(['workflow_run'])
    expect(obj(on.workflow_run).types).toEqual(['completed'])
    const condition = String(job.if)
    expect(condition).toContain("github.event.workflow_run.conclusion == 'failure'")
    expect(condition).toContain("github.event.workflow_run.event == 'pull_request'")
    expect(condition).toContain(
      'github.event.workflow_run.head_repository.full_name == github.repository'
    )
  })

  it('asks for the logs, the commit and the report, nothing more', () => {
    expect(doc.permissions).toEqual({})
    expect(job.permissions).toEqual({
      actions: 'read',
      contents: 'write',
      'pull-requests': 'write'
    })
  })

  it('checks out the failed commit, sets up the toolchain and dependencies, then runs the agent', () => {
    const kinds = steps.map(step =>
      typeof step.uses === 'string' ? step.uses : `run: ${String(step.run).split('\n')[0]}`
    )
    expect(kinds).toEqual([
      'actions/checkout@v5',
      'actions/setup-node@v4',
      'run: npm ci',
      'run: set -euo pipefail',
      `${PUBLISHED}@v1`
    ])
    expect(obj(steps[0]?.with).ref).toBe('${{ github.event.workflow_run.head_sha }}')
    const action = obj(steps[4]?.with)
    expect(action.publish).toBe('commit')
    // GitHub's parser turns `${{ runner.temp }}/x` into the equivalent format() expression.
    expect(String(action['prompt-file'])).toMatch(/ci-fix-prompt\.md.*runner\.temp/)
    expect(action.prompt).toBeUndefined()
  })

  it('fetches the failed jobs’ logs on the host with the job’s token and fences them as untrusted', () => {
    const prompt = steps[3] ?? {}
    expect(obj(prompt.env).GH_TOKEN).toBe('${{ github.token }}')
    const script = String(prompt.run)
    expect(script).toMatch(/actions\/runs\/\$RUN_ID\/attempts\/\$ATTEMPT\/jobs/)
    expect(script).toContain('select(.conclusion == "failure")')
    expect(script).toMatch(/actions\/jobs\/\$id\/logs/)
    expect(script).toContain('openssl rand -hex 16')
    expect(script).toContain('<untrusted-input id=\\"$nonce\\"')
    expect(script).toContain('</untrusted-input id=\\"$nonce\\">')
    expect(script).toContain('&lt;')
    // The logs go to the runner's temp directory, never into the working tree the patch is made of.
    expect(script).not.toMatch(/GITHUB_WORKSPACE/)
  })
})

describe('the reusable workflow', () => {
  const { doc } = parsedWorkflow(REUSABLE)
  const jobs = obj(doc.jobs)
  const agent = obj(jobs.agent)
  const publish = obj(jobs.publish)
  const steps = stepsOf(REUSABLE, doc)

  it('gives the agent job a read-only token that is not persisted', () => {
    // id-token: the keyless providers' OIDC token, used on the host by the gateway only.
    expect(agent.permissions).toEqual({
      contents: 'read',
      'pull-requests': 'read',
      'id-token': 'write'
    })
    const checkout = steps.find(s => s.job === 'agent' && s.uses.startsWith('actions/checkout@'))
    expect(String(checkout?.with['persist-credentials'])).toBe('false')
  })

  it('runs the action in the agent job by its published name, only to make a patch', () => {
    const action = steps.filter(s => s.job === 'agent' && ourActionFile(s.uses) === 'action.yml')
    expect(action).toHaveLength(1)
    expect(action[0]?.uses).toBe(`${PUBLISHED}@v1`)
    expect(action[0]?.with.publish).toBe('patch')
    expect(action[0]?.with['github-token']).toBe('${{ github.token }}')
    // Never `./`: in a pull request run that would be the pull request's copy of the action.
    expect(steps.filter(s => s.uses.startsWith('./'))).toEqual([])
  })

  it('publishes from a job that holds the write token and never runs the agent or a checkout', () => {
    expect(publish.needs).toBe('agent')
    expect(obj(publish.permissions).contents).toBe('write')
    const uses = steps.filter(s => s.job === 'publish').map(s => s.uses)
    // download-artifact is pinned by commit SHA (release-workflows.test.ts checks the pin).
    expect(uses).toEqual([
      expect.stringMatching(/^actions\/download-artifact@/),
      `${PUBLISHED}/publish@v1`
    ])
  })

  it('hands the patch and the transcript from one job to the other as the action’s artifact', () => {
    // The action uploads them itself (artifact-name output); no second copy with upload-artifact.
    expect(steps.filter(s => s.uses.startsWith('actions/upload-artifact@'))).toEqual([])
    expect(obj(agent.outputs)['artifact-name']).toBe('${{ steps.claude.outputs.artifact-name }}')
    const download = steps.find(s => s.uses.startsWith('actions/download-artifact@'))
    expect(download?.with.name).toBe('${{ needs.agent.outputs.artifact-name }}')
    const publishStep = steps.find(s => ourActionFile(s.uses) === 'publish/action.yml')
    expect(publishStep?.with.patch).toMatch(/claude-sandbox-result\/claude\.patch\b/)
    expect(publishStep?.with['execution-file']).toMatch(
      /claude-sandbox-result\/claude-execution\.jsonl\b/
    )
  })

  it('serialises runs per pull request or issue', () => {
    const group = String(obj(doc.concurrency).group)
    expect(group).toContain('github.event.pull_request.number')
    expect(group).toContain('github.event.issue.number')
    expect(obj(doc.concurrency)['cancel-in-progress']).toBe(false)
  })

  it('mirrors the action: every input it passes on has the action’s default', () => {
    const inputs = obj(workflowCall(REUSABLE).inputs)
    const checked: string[] = []
    for (const step of steps) {
      const target = ourActionFile(step.uses)
      if (!target || (target === 'publish/action.yml' && !HAS_PUBLISH)) continue
      const declared = actionInputs(target)
      for (const [key, value] of Object.entries(step.with)) {
        const passed = /^\$\{\{ inputs\.([\w-]+) \}\}$/.exec(String(value))?.[1]
        if (!passed) continue
        const actionDefault = obj(declared[key]).default
        if (actionDefault === undefined) continue
        const workflowDefault = obj(inputs[passed]).default
        expect([key, String(workflowDefault)]).toEqual([key, String(actionDefault)])
        checked.push(key)
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining(['timeout-minutes', 'network', 'trigger-phrase'])
    )
  })

  it('passes on every input of the action that a caller could want', () => {
    const inputs = Object.keys(obj(workflowCall(REUSABLE).inputs))
    const secrets = Object.keys(obj(workflowCall(REUSABLE).secrets))
    // Set by the workflow itself, not by its caller (the publish job needs the artifact).
    const ownedByWorkflow = ['publish', 'github-token', 'working-directory', 'artifact']
    const missing = Object.keys(actionInputs('action.yml')).filter(
      name => !inputs.includes(name) && !secrets.includes(name) && !ownedByWorkflow.includes(name)
    )
    expect(missing).toEqual([])
  })
})
