import { describe, it, expect } from '@jest/globals'
import { ConfigurationError } from '../../src/errors.js'
import {
  isAddressAllowedByIp,
  isHostAllowed,
  isPublicAddress,
  parseAllowedDomains
} from '../../src/egress/allow-list.js'

describe('parseAllowedDomains', () => {
  it('accepts commas, whitespace, new lines and comments; an empty input allows nothing', () => {
    const list = parseAllowedDomains(
      'a.example, b.example\n\n  c.example d.example # note, e.example\r\n'
    )
    expect(list.entries.map(entry => entry.source)).toEqual([
      'a.example',
      'b.example',
      'c.example',
      'd.example'
    ])
    const empty = parseAllowedDomains('  \n # nothing\n')
    expect(empty.entries).toEqual([])
    expect(isHostAllowed(empty, 'a.example', 443)).toBe(false)
    expect(isAddressAllowedByIp(empty, '127.0.0.1', 443)).toBe(false)
  })

  it('normalises host names: case, trailing dot, IDN', () => {
    const list = parseAllowedDomains('Example.COM., bücher.example')
    expect(list.entries).toEqual([
      { kind: 'host', host: 'example.com', source: 'Example.COM.' },
      { kind: 'host', host: 'xn--bcher-kva.example', source: 'bücher.example' }
    ])
    expect(isHostAllowed(list, 'EXAMPLE.com', 443)).toBe(true)
    expect(isHostAllowed(list, 'example.com.', 80)).toBe(true)
    expect(isHostAllowed(list, 'xn--bcher-kva.example', 443)).toBe(true)
    expect(isHostAllowed(list, 'www.example.com', 443)).toBe(false)
    expect(isHostAllowed(list, 'example.com.evil.test', 443)).toBe(false)
    expect(isHostAllowed(list, 'notexample.com', 443)).toBe(false)
  })

  it('a wildcard matches sub-domains at any depth but not the apex', () => {
    const list = parseAllowedDomains('*.example.com')
    expect(isHostAllowed(list, 'a.example.com', 443)).toBe(true)
    expect(isHostAllowed(list, 'a.b.example.com', 443)).toBe(true)
    expect(isHostAllowed(list, 'example.com', 443)).toBe(false)
    expect(isHostAllowed(list, 'badexample.com', 443)).toBe(false)
    expect(isHostAllowed(list, 'example.com.evil.test', 443)).toBe(false)
    const both = parseAllowedDomains('example.com, *.example.com')
    expect(isHostAllowed(both, 'example.com', 443)).toBe(true)
    expect(isHostAllowed(both, 'x.example.com', 443)).toBe(true)
  })

  it('restricts an entry to a port when one is given', () => {
    const list = parseAllowedDomains(
      'api.example:443, *.cdn.example:8443, 10.1.2.3:3128, [2001:db8::1]:443, 192.0.2.0/24:80'
    )
    expect(isHostAllowed(list, 'api.example', 443)).toBe(true)
    expect(isHostAllowed(list, 'api.example', 80)).toBe(false)
    // Without a port, only entries that allow every port count.
    expect(isHostAllowed(list, 'api.example')).toBe(false)
    expect(isHostAllowed(list, 'x.cdn.example', 8443)).toBe(true)
    expect(isHostAllowed(list, 'x.cdn.example', 443)).toBe(false)
    expect(isAddressAllowedByIp(list, '10.1.2.3', 3128)).toBe(true)
    expect(isAddressAllowedByIp(list, '10.1.2.3', 22)).toBe(false)
    expect(isHostAllowed(list, '[2001:db8::1]', 443)).toBe(true)
    expect(isHostAllowed(list, '2001:db8:0::1', 443)).toBe(true)
    expect(isHostAllowed(list, '2001:db8::1', 80)).toBe(false)
    expect(isAddressAllowedByIp(list, '192.0.2.77', 80)).toBe(true)
  })

  it('IP addresses and CIDR ranges allow IP literals and resolved addresses', () => {
    const list = parseAllowedDomains(
      '10.0.0.0/8, 192.168.1.5, 2001:db8::/32, [fd00::1], 127.0.0.1/32'
    )
    expect(list.entries[0]).toEqual({
      kind: 'address',
      address: '10.0.0.0',
      prefixLength: 8,
      source: '10.0.0.0/8'
    })
    expect(isAddressAllowedByIp(list, '10.255.0.1')).toBe(true)
    expect(isAddressAllowedByIp(list, '11.0.0.1')).toBe(false)
    expect(isAddressAllowedByIp(list, '192.168.1.5')).toBe(true)
    expect(isAddressAllowedByIp(list, '192.168.1.6')).toBe(false)
    expect(isAddressAllowedByIp(list, '2001:db8:ffff::1')).toBe(true)
    expect(isAddressAllowedByIp(list, '2001:db9::1')).toBe(false)
    expect(isAddressAllowedByIp(list, 'fd00::1')).toBe(true)
    expect(isAddressAllowedByIp(list, '127.0.0.1')).toBe(true)
    expect(isAddressAllowedByIp(list, '127.0.0.2')).toBe(false)
    // The IPv4-mapped IPv6 form is the same destination as the IPv4 address.
    expect(isAddressAllowedByIp(list, '::ffff:10.1.2.3')).toBe(true)
    expect(isAddressAllowedByIp(list, '::ffff:a01:203')).toBe(true)
    // IP literals as hosts are judged by the address entries, never by name entries.
    expect(isHostAllowed(list, '10.9.9.9', 443)).toBe(true)
    expect(isHostAllowed(list, '[2001:db8::5]', 443)).toBe(true)
    expect(isHostAllowed(list, '8.8.8.8', 443)).toBe(false)
    expect(isAddressAllowedByIp(list, 'not-an-ip')).toBe(false)
  })

  it('names that are IP addresses written oddly are no host names', () => {
    const list = parseAllowedDomains('example.com')
    expect(isHostAllowed(list, '2130706433', 80)).toBe(false)
    expect(isHostAllowed(list, '127.1', 80)).toBe(false)
    expect(isHostAllowed(list, 'exa mple.com', 80)).toBe(false)
  })

  it('refuses invalid entries with one ConfigurationError naming each and the accepted forms', () => {
    const invalid = [
      ['https://example.com', 'without scheme'],
      ['example.com/path', 'before / must be an IP address'],
      ['*.com', 'at least two labels'],
      ['*', 'use network: open'],
      ['a*.example.com', 'leading *.'],
      ['*.*.example.com', 'not a valid host name after *.'],
      ['.example.com', 'write example.com for the host and *.example.com'],
      ['1.2.3', 'not a valid IPv4 address'],
      ['256.1.1.1', 'not a valid IPv4 address'],
      ['example.com:0', 'port must be a number from 1 to 65535'],
      ['example.com:99999', 'port must be a number'],
      ['example.com:http', 'port must be a number'],
      ['10.0.0.0/33', 'prefix length must be a number from 0 to 32'],
      ['2001:db8::/129', 'from 0 to 128'],
      ['[example.com]:443', 'brackets hold an IPv6 address'],
      ['[2001:db8::1', 'closing ]'],
      ['fe80::1%eth0', 'not a valid IPv6 address'],
      ['-bad.example', 'not a valid host name'],
      ['bad-.example', 'not a valid host name'],
      [`${'a'.repeat(64)}.example`, 'not a valid host name'],
      ['ex!ample.com', 'not a valid host name']
    ]
    for (const [entry, why] of invalid) {
      let caught: unknown
      try {
        parseAllowedDomains(`ok.example, ${entry}`)
      } catch (error: unknown) {
        caught = error
      }
      expect(caught).toBeInstanceOf(ConfigurationError)
      const error = caught as ConfigurationError
      expect(error.message).toContain(`'${entry}'`)
      expect(error.message).toContain(why)
      expect(error.message).not.toContain('ok.example')
      expect(error.line).toContain('Accepted forms')
      expect(error.line).toContain('*.example.com')
    }
  })

  it('names every invalid entry at once', () => {
    expect(() => parseAllowedDomains('good.example, bad!, *.com')).toThrow(
      /entries: 'bad!' \(.*\); '\*\.com' \(/
    )
  })
})

describe('isPublicAddress', () => {
  const table: Array<[string, boolean]> = [
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['93.184.216.34', true],
    ['2606:4700:4700::1111', true],
    ['[2606:4700:4700::1111]', true],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::808:808', true], // NAT64 of a public address
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['172.32.0.1', true],
    ['192.168.0.1', false],
    ['169.254.169.254', false], // cloud metadata
    ['169.254.0.1', false],
    ['100.64.0.1', false],
    ['100.127.255.255', false],
    ['100.128.0.1', true],
    ['192.0.0.192', false],
    ['192.0.2.1', false],
    ['198.18.0.1', false],
    ['198.51.100.1', false],
    ['203.0.113.1', false],
    ['224.0.0.1', false],
    ['239.255.255.250', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    ['::', false],
    ['::1', false],
    ['fc00::1', false],
    ['fd00:ec2::254', false], // cloud metadata (IPv6)
    ['fe80::1', false],
    ['fec0::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['::ffff:0.0.0.0', false],
    ['::127.0.0.1', false], // IPv4-compatible (deprecated)
    ['64:ff9b::a00:1', false], // NAT64 of 10.0.0.1
    ['64:ff9b:1::1', false],
    ['2001::1', false], // Teredo
    ['2001:db8::1', false],
    ['2002:a00:1::1', false], // 6to4 of 10.0.0.1
    ['3fff::1', false],
    ['fe80::1%eth0', false],
    ['localhost', false],
    ['', false]
  ]
  it.each(table)('%s -> %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected)
  })
})
