/**
 * The bundled image found by its inputs (present-image.ts), with a real Docker daemon and two tiny
 * images made with `docker import`: the check after the start keeps the inputs tag when the
 * base's current key names the same image, takes it off (the image keeps its own tag) when the
 * base has moved to other content, and changes nothing when the registry cannot be asked.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { imageId } from '../../src/docker.js'
import {
  inputsTag,
  presentByInputs,
  recheckBaseLater,
  tagAsChecked
} from '../../src/image/present-image.js'

const nonce = randomBytes(4).toString('hex')
const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8' })
const oldTag = `claude-sandbox-present-test:old-${nonce}`
const newTag = `claude-sandbox-present-test:new-${nonce}`
const prefix = `claude-sandbox-image-v3-linux-x64-present${nonce}-`
const checked = inputsTag(prefix)

function importImage(tag: string, content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'unit-present-'))
  try {
    writeFileSync(path.join(dir, 'f'), content)
    execFileSync('sh', ['-c', `tar -C "${dir}" -cf - f | docker import - ${tag}`])
    return docker('image', 'inspect', '--format', '{{.Id}}', tag).trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('an image found by its inputs', () => {
  let oldId = ''
  beforeAll(() => {
    oldId = importImage(oldTag, `old ${nonce}`)
    importImage(newTag, `new ${nonce}`)
  })
  afterAll(() => {
    for (const ref of [checked, oldTag, newTag]) spawnQuiet('rmi', ref)
  })
  const spawnQuiet = (...args: string[]): void => {
    try {
      docker(...args)
    } catch {
      // already gone
    }
  }
  const infos: string[] = []
  const log = {
    info: (m: string) => void infos.push(m),
    warning: (m: string) => void infos.push(m)
  }

  it('is named by its key prefix, and found once tagged as checked', async () => {
    expect(checked).toBe(`claude-sandbox-agent:v3-linux-x64-present${nonce}-inputs`)
    expect(await presentByInputs(checked)).toBeUndefined()
    await tagAsChecked(oldTag, checked)
    expect(await presentByInputs(checked)).toBe(oldId)
  })

  it('keeps the tag when the base still gives this image, and when the registry cannot say', async () => {
    for (const current of [oldTag, undefined]) {
      await recheckBaseLater({
        tag: checked,
        id: oldId,
        baseRef: 'registry.example.com/debian:13-slim',
        currentTag: () => Promise.resolve(current),
        log,
        delayMs: 0
      })
      expect(await presentByInputs(checked)).toBe(oldId)
    }
    expect(infos).toEqual([])
  })

  it('takes the tag off when the base moved; the image keeps its own tag', async () => {
    await recheckBaseLater({
      tag: checked,
      id: oldId,
      baseRef: 'registry.example.com/debian:13-slim',
      currentTag: () => Promise.resolve(newTag),
      log,
      delayMs: 0
    })
    expect(await presentByInputs(checked)).toBeUndefined()
    expect(await imageId(oldTag)).toBe(oldId)
    expect(infos).toEqual([
      'The base image registry.example.com/debian:13-slim has changed since the agent image on this runner was built; the next run builds on the new base (or restores an image built on it)'
    ])
  })
})
