import { describe, expect, it } from '@jest/globals'
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * What Node parses before the action's first line (issue 22): the main chunk of dist/, which
 * every run loads. The clients most runs never call (the Actions cache with the Azure storage
 * library under it, the artifact client) are separate chunks loaded on use. One static import of
 * `@actions/cache` in any module on the start path puts them back (it happened once, unnoticed:
 * 2.1 MB became 4.6 MB), so this is checked on the committed bundle.
 */
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist')

describe('the bundle the runner loads first', () => {
  const main = readFileSync(path.join(DIST, 'index.js'), 'utf8')

  it('holds neither the cache client nor the artifact client', () => {
    expect(main).not.toMatch(/node_modules\/@azure\//)
    expect(main).not.toMatch(/node_modules\/@actions\/cache\//)
    expect(main).not.toMatch(/node_modules\/@actions\/artifact\//)
  })

  it('stays under 2.5 MB', () => {
    expect(statSync(path.join(DIST, 'index.js')).size).toBeLessThan(2.5 * 1024 * 1024)
  })
})
