/**
 * The job-summary section that tells a user which hosts the egress proxy refused and what to add
 * to `allowed-domains`. Pure: builds markdown, writes nothing.
 */

export interface DeniedHostCount {
  host: string
  count: number
  /** Why it was refused, e.g. `host not in allowed-domains`. */
  reason?: string
}

export interface DeniedHostsFormatOptions {
  /** Denials not itemised because the proxy stopped counting new hosts. */
  omitted?: number
  /** At most this many rows; the rest are summed in one line. */
  maxRows?: number
}

const NOT_LISTED = 'host not in allowed-domains'

/** Markdown for the job summary; an empty string when nothing was denied. */
export function formatDeniedHosts(
  denied: DeniedHostCount[],
  options: DeniedHostsFormatOptions = {}
): string {
  const { omitted = 0, maxRows = 50 } = options
  const rows = denied.filter(entry => entry.count > 0)
  if (rows.length === 0 && omitted === 0) return ''

  const sorted = [...rows].sort((a, b) => b.count - a.count || a.host.localeCompare(b.host))
  const shown = sorted.slice(0, maxRows)
  const hidden = sorted.slice(maxRows)
  const lines = [
    '### Network: denied hosts',
    '',
    'The sandbox egress proxy (`network: restricted`) refused these connections. If the agent ' +
      'needed them, add them to `allowed-domains`.',
    '',
    '| Host | Denied connections | Reason |',
    '| --- | ---: | --- |',
    ...shown.map(
      entry => `| ${code(entry.host)} | ${entry.count} | ${cell(entry.reason ?? NOT_LISTED)} |`
    )
  ]
  const moreCount = hidden.reduce((sum, entry) => sum + entry.count, 0) + omitted
  if (hidden.length > 0 || omitted > 0) {
    const hosts = hidden.length > 0 ? `${hidden.length} more hosts` : 'other hosts'
    lines.push('', `…and ${moreCount} more denied connections to ${hosts} (see the proxy log).`)
  }

  // Hosts are what the (untrusted) agent asked for: only plain host names and IP literals go
  // into the snippet, so nothing in it can be anything but an allowed-domains entry.
  const snippet = shown.filter(entry => isPlainHost(entry.host))
  if (snippet.length > 0) {
    lines.push(
      '',
      'To allow them, add to the entries you already have (a `#` starts a comment):',
      '',
      '```yaml',
      'allowed-domains: |',
      ...snippet.map(entry => `  ${snippetEntry(entry)}`),
      '```'
    )
  }
  return `${lines.join('\n')}\n`
}

function snippetEntry({ host, reason }: DeniedHostCount): string {
  // Listed for other ports only: suggest exactly the port that was refused.
  const port = /^port ([0-9]{1,5}) /.exec(reason ?? '')?.[1]
  if (port !== undefined) return `${host.includes(':') ? `[${host}]` : host}:${port}`
  return `${host}${snippetComment(reason)}`
}

function snippetComment(reason: string | undefined): string {
  if (reason === undefined || reason === NOT_LISTED) return ''
  if (/private address/.test(reason)) {
    // The address itself stays in the proxy log: a summary may be public, internal addresses not.
    return '  # resolves to a private address (see the log): add that IP or CIDR too, if trusted'
  }
  return `  # ${reason}`
}

function isPlainHost(host: string): boolean {
  return /^[A-Za-z0-9._:-]{1,253}$/.test(host) && !host.startsWith('-')
}

function code(text: string): string {
  return isPlainHost(text) ? `\`${text}\`` : cell(text)
}

/** Text that can't break out of a table cell or inject markup. */
function cell(text: string): string {
  return text
    .slice(0, 200)
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]<>|#!~&]/g, character => `&#${character.charCodeAt(0)};`)
}
