/**
 * Publishing follows the thread (pure): a resumed run does not replace the sticky comment of
 * the conversation's earlier runs; it keeps what they published and adds a follow-up section.
 */
import { COMMENT_LIMIT } from '../report/comment.js'

/** What a resumed run keeps of the conversation's comment, and how its section is headed. */
export interface CommentThread {
  /** The sticky comment's body before this run, without its marker. */
  earlier: string
  /** The run this one continued. */
  resumedFrom: { runId: string; runUrl?: string }
}

/** Ends every follow-up heading; also how a section is recognised. */
const FOLLOW_UP_MARK = '<!-- claude-sandbox:follow-up -->'

/** Room the current run's own report may take when it is appended to earlier runs. */
export function followUpLimit(thread: CommentThread | undefined, limit = COMMENT_LIMIT): number {
  if (!thread) return limit
  // The newest run matters most: it gets at least two thirds of the comment.
  return Math.max(Math.floor((limit * 2) / 3), limit - thread.earlier.length - 1_000)
}

function heading(thread: CommentThread): string {
  const run = thread.resumedFrom.runUrl
    ? `[run ${thread.resumedFrom.runId}](${thread.resumedFrom.runUrl})`
    : `run ${thread.resumedFrom.runId}`
  return `${FOLLOW_UP_MARK}\n\n---\n\n## ↪️ Follow-up (continued the session of ${run})\n\n`
}

/**
 * The sticky comment of a resumed run: the marker, the earlier runs' part as it was, then this
 * run's section. `current` is this run's body without the marker. When everything does not fit,
 * the earlier part is cut (its end, keeping the first run's header) with a note.
 */
export function threadedBody(
  marker: string,
  thread: CommentThread,
  current: string,
  limit = COMMENT_LIMIT
): string {
  const section = heading(thread) + current.replace(/^\n+/, '')
  const room = limit - 200 - marker.length - section.length
  let earlier = thread.earlier.trim()
  if (earlier.length > room) {
    const note = '\n\n_(earlier runs cut to fit GitHub’s comment limit; see their workflow runs)_'
    earlier = room > note.length ? earlier.slice(0, room - note.length) + note : ''
  }
  return `${marker}\n${earlier}\n\n${section}`
}

/** A review cannot keep the earlier one's suggestions: the follow-up's review says what it continues. */
export function followUpNote(thread: CommentThread): string {
  const run = thread.resumedFrom.runUrl
    ? `[run ${thread.resumedFrom.runId}](${thread.resumedFrom.runUrl})`
    : `run ${thread.resumedFrom.runId}`
  return `Follow-up: this run continued the session of ${run}, and its review replaces that run’s (the agent remembers what it suggested there).`
}

/**
 * The earlier part of a sticky comment body: without the marker, and without a follow-up
 * section that never got past "working…" (a run that was killed before it could report).
 */
export function earlierPart(body: string, marker: string): string {
  let rest = body.startsWith(marker) ? body.slice(marker.length) : body
  const last = rest.lastIndexOf(FOLLOW_UP_MARK)
  if (last >= 0 && /Claude Code is working…/.test(rest.slice(last))) rest = rest.slice(0, last)
  return rest.trim()
}
