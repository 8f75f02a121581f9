import { isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import { ConfigurationError } from '../errors.js'

/**
 * The `allowed-domains` input, parsed. Pure: no DNS, no sockets.
 *
 * Forms accepted (separated by commas, whitespace or new lines; `#` starts a comment):
 * - `example.com`: that host only (case-insensitive, a trailing dot is ignored, IDN is converted
 *   to its ASCII form).
 * - `*.example.com`: every sub-domain at any depth (`a.example.com`, `a.b.example.com`) but NOT
 *   `example.com` itself. The apex is deliberately not implied: `*.example.com` says "names under
 *   example.com", and a user who also wants the apex writes both (`example.com, *.example.com`),
 *   so nothing is reachable that the list does not spell out. Wildcards must sit on at least two
 *   labels (`*.com` is refused: that is `network: open`, say so there).
 * - `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]`: an address. Allows CONNECT/HTTP to that IP
 *   literal, and allows any allowed host name that resolves to it even when the address is
 *   private (the only way to reach an internal mirror).
 * - `10.0.0.0/8`, `2001:db8::/32`: a CIDR range, with the same meaning as an address.
 * - Any of these followed by `:port` (`example.com:443`, `*.example.com:8443`,
 *   `[2001:db8::1]:443`, `10.0.0.0/8:3128`) restricts the entry to that one port. Bare IPv6
 *   addresses take a port only in brackets, since their colons are ambiguous otherwise.
 */
export type AllowEntry =
  | { kind: 'host'; host: string; port?: number; source: string }
  | { kind: 'wildcard'; suffix: string; port?: number; source: string }
  | { kind: 'address'; address: string; prefixLength: number; port?: number; source: string }

export interface AllowList {
  readonly entries: readonly AllowEntry[]
}

const ACCEPTED_FORMS =
  'Accepted forms: a host name (example.com), its sub-domains (*.example.com; does not include ' +
  'example.com itself), an IPv4 or IPv6 address (203.0.113.7, 2001:db8::1), a CIDR range ' +
  '(10.0.0.0/8, 2001:db8::/32), each optionally with :port (example.com:443, ' +
  '[2001:db8::1]:443). Separate entries with commas or new lines'

/** Parses `allowed-domains`; throws one ConfigurationError naming every invalid entry. */
export function parseAllowedDomains(text: string): AllowList {
  const entries: AllowEntry[] = []
  const problems: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const withoutComment = line.replace(/#.*$/, '')
    for (const token of withoutComment.split(/[\s,]+/)) {
      if (token === '') continue
      const parsed = parseEntry(token)
      if (typeof parsed === 'string') problems.push(`'${token}' (${parsed})`)
      else entries.push(parsed)
    }
  }
  if (problems.length > 0) {
    const noun = problems.length === 1 ? 'entry' : 'entries'
    throw new ConfigurationError(
      `Invalid allowed-domains ${noun}: ${problems.join('; ')}`,
      ACCEPTED_FORMS
    )
  }
  return { entries }
}

/**
 * Whether `host` (a name or an IP literal, as a client asked for it) is allowed by the list.
 * With `port`, the entry must allow that port; without it, only entries that allow every port
 * count (the conservative answer to "is this host allowed?").
 */
export function isHostAllowed(list: AllowList, host: string, port?: number): boolean {
  const literal = normalizeIpLiteral(host)
  if (literal !== undefined) return isAddressAllowedByIp(list, literal, port)
  const name = normalizeHostName(host)
  if (name === undefined) return false
  return list.entries.some(entry => {
    if (!portMatches(entry, port)) return false
    if (entry.kind === 'host') return entry.host === name
    if (entry.kind === 'wildcard') return name.endsWith(`.${entry.suffix}`)
    return false
  })
}

/**
 * Whether an address entry (address or CIDR) covers `address`. IPv4 entries also cover the
 * IPv4-mapped IPv6 form (`::ffff:10.0.0.1`), since that is the same destination.
 */
export function isAddressAllowedByIp(list: AllowList, address: string, port?: number): boolean {
  const bytes = parseIp(stripBrackets(address))
  if (bytes === undefined) return false
  return list.entries.some(entry => {
    if (entry.kind !== 'address' || !portMatches(entry, port)) return false
    const network = parseIp(entry.address)
    if (network === undefined) return false
    const bits = isIP(entry.address) === 4 ? 96 + entry.prefixLength : entry.prefixLength
    return inPrefix(bytes, network, bits)
  })
}

/**
 * True only for globally routable unicast addresses. False for loopback, private (RFC 1918,
 * fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10), CGNAT, this
 * network (0/8), benchmarking, documentation, multicast, reserved, unspecified, IPv4-mapped or
 * NAT64 forms of any of these, and anything that is not an IP address at all. IPv6 is judged by
 * allow-listing the global unicast block 2000::/3 and carving out its special ranges, so a block
 * that IANA assigns later is refused rather than accepted by default.
 */
export function isPublicAddress(address: string): boolean {
  const bytes = parseIp(stripBrackets(address))
  if (bytes === undefined) return false
  if (inPrefix(bytes, IPV4_MAPPED, 96)) return isPublicIpv4(bytes.subarray(12))
  // NAT64 (DNS64 on IPv6-only networks): as public as the IPv4 address it carries.
  if (inPrefix(bytes, NAT64, 96)) return isPublicIpv4(bytes.subarray(12))
  if (!inPrefix(bytes, GLOBAL_UNICAST.bytes, GLOBAL_UNICAST.bits)) return false
  return !NON_PUBLIC_IN_GLOBAL_UNICAST.some(range => inPrefix(bytes, range.bytes, range.bits))
}

/** The canonical form of an IP literal (brackets removed, IPv6 compressed), else undefined. */
export function normalizeIpLiteral(host: string): string | undefined {
  const inner = stripBrackets(host)
  const family = isIP(inner)
  if (family === 0) return undefined
  if (family === 4) return inner
  const bytes = parseIp(inner)
  // Undefined for a zone id (fe80::1%eth0): an interface-scoped address is never a destination.
  return bytes === undefined ? undefined : formatIpv6(bytes)
}

/** A host name lower-cased, trailing dot removed, IDN in ASCII; undefined when invalid. */
export function normalizeHostName(host: string): string | undefined {
  let name = host.trim().toLowerCase()
  if (name.endsWith('.')) name = name.slice(0, -1)
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name)) {
    name = domainToASCII(name)
    if (name === '') return undefined
  }
  if (name.length === 0 || name.length > 253) return undefined
  const labels = name.split('.')
  const validLabel = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/
  if (!labels.every(label => validLabel.test(label))) return undefined
  // A name whose last label is numeric is either an IP address written oddly (`127.1`,
  // `2130706433`) or nothing valid; getaddrinfo would turn it into an address, so it is no name.
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return undefined
  return name
}

function parseEntry(token: string): AllowEntry | string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(token)) return 'write the host alone, without scheme or path'
  const split = splitPort(token)
  if (typeof split === 'string') return split
  const { target, port, bracketed } = split
  const portPart = port === undefined ? {} : { port }

  const slash = target.indexOf('/')
  if (slash !== -1) {
    const address = target.slice(0, slash)
    const prefixText = target.slice(slash + 1)
    const family = isIP(address)
    if (family === 0) return 'not a CIDR range: the part before / must be an IP address'
    const max = family === 4 ? 32 : 128
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return `the prefix length must be a number from 0 to ${max}`
    }
    const canonical = normalizeIpLiteral(address)
    if (canonical === undefined) return 'not a valid IPv6 address (zone ids are not accepted)'
    return {
      kind: 'address',
      address: canonical,
      prefixLength: Number(prefixText),
      ...portPart,
      source: token
    }
  }

  const family = isIP(target)
  if (family !== 0) {
    const canonical = normalizeIpLiteral(target)
    if (canonical === undefined) return 'not a valid IPv6 address (zone ids are not accepted)'
    const prefixLength = family === 4 ? 32 : 128
    return { kind: 'address', address: canonical, prefixLength, ...portPart, source: token }
  }
  if (bracketed) return 'brackets hold an IPv6 address'
  if (target.includes(':')) return 'not a valid IPv6 address'

  if (target.startsWith('*.')) {
    const suffix = normalizeHostName(target.slice(2))
    if (suffix === undefined) return 'not a valid host name after *.'
    if (!suffix.includes('.')) {
      return 'a wildcard needs at least two labels (*.example.com); to allow everything use network: open'
    }
    return { kind: 'wildcard', suffix, ...portPart, source: token }
  }
  if (target === '*') return 'to allow every host use network: open'
  if (target.includes('*')) return 'a wildcard is allowed only as a leading *. (*.example.com)'
  if (target.startsWith('.')) {
    return `write ${target.slice(1)} for the host and *${target} for its sub-domains`
  }
  if (/^[0-9.]+$/.test(target)) return 'not a valid IPv4 address'
  const host = normalizeHostName(target)
  if (host === undefined) return 'not a valid host name'
  return { kind: 'host', host, ...portPart, source: token }
}

function splitPort(token: string): { target: string; port?: number; bracketed: boolean } | string {
  let target: string
  let portText: string | undefined
  let bracketed = false
  if (token.startsWith('[')) {
    const match = /^\[([^\]]+)\](?::(.*))?$/.exec(token)
    if (!match) return 'an opening [ needs a closing ], optionally followed by :port'
    target = match[1] as string
    portText = match[2]
    bracketed = true
    if (isIP(target.split('/')[0] as string) !== 6) return 'brackets hold an IPv6 address'
  } else {
    const colons = token.split(':').length - 1
    if (colons === 1) {
      const at = token.lastIndexOf(':')
      target = token.slice(0, at)
      portText = token.slice(at + 1)
    } else {
      target = token
    }
  }
  if (portText === undefined) return { target, bracketed }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return 'the port must be a number from 1 to 65535'
  }
  return { target, port: Number(portText), bracketed }
}

function portMatches(entry: AllowEntry, port: number | undefined): boolean {
  return entry.port === undefined || entry.port === port
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** 16 bytes for any IP literal; IPv4 becomes its IPv4-mapped IPv6 form (::ffff:a.b.c.d). */
function parseIp(text: string): Uint8Array | undefined {
  const family = isIP(text)
  if (family === 4) {
    const bytes = new Uint8Array(16)
    bytes.set(IPV4_MAPPED.subarray(0, 12))
    text.split('.').forEach((part, index) => (bytes[12 + index] = Number(part)))
    return bytes
  }
  if (family !== 6 || text.includes('%')) return undefined
  let head = text
  let tailV4: number[] = []
  const lastColon = text.lastIndexOf(':')
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number)
    head = `${text.slice(0, lastColon + 1)}0:0`
  }
  const [left, right] = head.split('::') as [string, string | undefined]
  const leftGroups = left === '' ? [] : left.split(':')
  const rightGroups = right === undefined || right === '' ? [] : right.split(':')
  const missing = 8 - leftGroups.length - rightGroups.length
  const groups = [
    ...leftGroups,
    ...Array<string>(right === undefined ? 0 : missing).fill('0'),
    ...rightGroups
  ]
  const bytes = new Uint8Array(16)
  groups.forEach((group, index) => {
    const value = parseInt(group, 16)
    bytes[index * 2] = value >> 8
    bytes[index * 2 + 1] = value & 0xff
  })
  if (tailV4.length === 4) bytes.set(tailV4, 12)
  return bytes
}

function formatIpv6(bytes: Uint8Array): string {
  if (inPrefix(bytes, IPV4_MAPPED, 96)) return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2)
    groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number))
  // Compress the longest run (length >= 2) of zero groups, as RFC 5952 says.
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map(group => group.toString(16))
  if (bestStart === -1) return hex.join(':')
  const left = hex.slice(0, bestStart).join(':')
  const right = hex.slice(bestStart + bestLength).join(':')
  return `${left}::${right}`
}

function inPrefix(bytes: Uint8Array, network: Uint8Array, bits: number): boolean {
  for (let bit = 0; bit < bits; bit += 8) {
    const remaining = Math.min(8, bits - bit)
    const mask = (0xff << (8 - remaining)) & 0xff
    const index = bit / 8
    if (((bytes[index] as number) & mask) !== ((network[index] as number) & mask)) return false
  }
  return true
}

function range(cidr: string): { bytes: Uint8Array; bits: number } {
  const [address, bits] = cidr.split('/') as [string, string]
  const bytes = parseIp(address) as Uint8Array
  return { bytes, bits: isIP(address) === 4 ? 96 + Number(bits) : Number(bits) }
}

const IPV4_MAPPED = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0])
const NAT64 = range('64:ff9b::/96').bytes
const GLOBAL_UNICAST = range('2000::/3')

/** IANA special-purpose IPv4 blocks that are not globally reachable unicast. */
const NON_PUBLIC_IPV4 = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT (also some clouds' metadata, e.g. 100.100.100.200)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, with the cloud metadata address 169.254.169.254
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments (some clouds' metadata, e.g. 192.0.0.192)
  '192.0.2.0/24', // documentation
  '192.88.99.0/24', // 6to4 relay anycast (deprecated)
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4' // reserved, with the limited broadcast address
].map(range)

/** Special ranges inside 2000::/3 (everything outside it is already refused). */
const NON_PUBLIC_IN_GLOBAL_UNICAST = [
  '2001::/23', // IETF protocol assignments: Teredo (embeds IPv4), benchmarking, ORCHID
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4 (embeds IPv4)
  '3fff::/20' // documentation
].map(range)

function isPublicIpv4(fourBytes: Uint8Array): boolean {
  const bytes = new Uint8Array(16)
  bytes.set(IPV4_MAPPED.subarray(0, 12))
  bytes.set(fourBytes, 12)
  return !NON_PUBLIC_IPV4.some(block => inPrefix(bytes, block.bytes, block.bits))
}
