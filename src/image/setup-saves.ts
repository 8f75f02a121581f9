/**
 * The cache saves of one set-up (an image built or pulled, a CLI fetched), held until the set-up
 * has settled. A save compresses hundreds of MB (`docker save`, then zstd on every core): started
 * as soon as its half was ready, it ran beside the other half of a cold set-up (the CLI stored
 * while the image was still being pulled, or the other way round) on the same cores. Held, it
 * runs beside the agent instead, and a failed set-up still starts what it queued, so nothing
 * already fetched is lost.
 */
export class SetupSaves {
  private readonly queued: Promise<unknown>[] = []
  private settle: () => void = () => undefined
  private readonly settled = new Promise<void>(resolve => {
    this.settle = resolve
  })

  /** Queues `save` (which never rejects): it starts once the set-up has settled. */
  add(save: () => Promise<unknown>): void {
    this.queued.push(this.settled.then(save))
  }

  /** The set-up has settled, done or failed: the queued saves start. */
  start(): void {
    this.settle()
  }

  /** Ends when every save queued so far has ended (they start with `start`). */
  done(): Promise<void> {
    return Promise.all(this.queued).then(() => undefined)
  }
}
