/**
 * A short-lived token held by the host and exchanged again before it expires, however long the
 * run: served from memory while it has plenty of life left; fetched again in the background when
 * it enters its last stretch (the requests in flight keep the current one); awaited only when it
 * is about to expire. One exchange at a time. The margins scale with the token's lifetime, so a
 * token that lives under a minute is refreshed as surely as one that lives an hour.
 */
export interface ExpiringToken {
  token: string
  /** Epoch milliseconds. */
  expiresAt: number
}

export class TokenCache {
  private current?: ExpiringToken & { lifetimeMs: number }
  private inFlight?: Promise<string>
  /** How many exchanges were made (for the log and the tests). */
  exchanges = 0

  constructor(
    private readonly fetchToken: () => Promise<ExpiringToken>,
    private readonly onBackgroundError: (error: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now
  ) {}

  async get(): Promise<string> {
    const current = this.current
    if (current) {
      const left = current.expiresAt - this.now()
      // Refresh in the background in the last half of its life (at most its last 2 minutes) ...
      const advisory = Math.min(120_000, current.lifetimeMs / 2)
      // ... and wait for a new one only in its last quarter (at most its last 30 s).
      const mandatory = Math.min(30_000, current.lifetimeMs / 4)
      if (left > advisory) return current.token
      if (left > mandatory) {
        this.refresh().catch(this.onBackgroundError)
        return current.token
      }
    }
    return this.refresh()
  }

  private refresh(): Promise<string> {
    this.inFlight ??= (async () => {
      try {
        const started = this.now()
        const fresh = await this.fetchToken()
        this.exchanges++
        this.current = { ...fresh, lifetimeMs: Math.max(1000, fresh.expiresAt - started) }
        return fresh.token
      } finally {
        this.inFlight = undefined
      }
    })()
    return this.inFlight
  }
}
