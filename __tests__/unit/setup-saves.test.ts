/**
 * The set-up's cache saves (src/image/setup-saves.ts) are held until the set-up has settled:
 * none starts before `start`, every queued one starts then, one queued after `start` (a CLI fetch
 * that ends after the image failed) starts at once, and `done` waits for all of them.
 */
import { describe, expect, it } from '@jest/globals'
import { SetupSaves } from '../../src/image/setup-saves.js'

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

describe('SetupSaves', () => {
  it('starts the queued saves only once the set-up has settled, and waits for them', async () => {
    const saves = new SetupSaves()
    const started: string[] = []
    let finishImage: () => void = () => undefined
    saves.add(async () => {
      started.push('cli')
    })
    saves.add(
      () =>
        new Promise<void>(resolve => {
          started.push('image')
          finishImage = resolve
        })
    )
    await tick()
    expect(started).toEqual([])
    let done = false
    void saves.done().then(() => (done = true))
    saves.start()
    await tick()
    expect(started).toEqual(['cli', 'image'])
    expect(done).toBe(false)
    finishImage()
    await tick()
    expect(done).toBe(true)
  })

  it('starts a save queued after the set-up settled at once', async () => {
    const saves = new SetupSaves()
    saves.start()
    const started: string[] = []
    saves.add(async () => {
      started.push('late')
    })
    await tick()
    expect(started).toEqual(['late'])
  })
})
