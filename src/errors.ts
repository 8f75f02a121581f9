/**
 * A mistake the user can fix (a wrong input, a missing daemon, a refused permission). main.ts
 * reports it as one `::error::` line naming the cause and the remedy, never as a stack trace.
 */
export class ConfigurationError extends Error {
  constructor(
    message: string,
    /** What the user should do about it; appended to the message when reported. */
    readonly remedy?: string
  ) {
    super(message)
    this.name = 'ConfigurationError'
  }

  /** The single line shown to the user. */
  get line(): string {
    return this.remedy ? `${this.message}. ${this.remedy}` : this.message
  }
}

/** The message of anything thrown, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof ConfigurationError) return error.line
  if (error instanceof Error) return error.message
  return String(error)
}
