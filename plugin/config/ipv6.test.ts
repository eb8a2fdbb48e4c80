import { expect, test } from 'vitest'
import { contains6, formatIpv6, isLabPrefix, isMulticast6, parseCidr6, parseIpv6 } from './ipv6.js'

test('IPv6 text forms parse to one value and print in the canonical form', () => {
  for (const [text, canonical] of [
    ['fd00:7::1', 'fd00:7::1'],
    ['FD00:0007:0000:0000:0000:0000:0000:0001', 'fd00:7::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['2001:db8::192.0.2.1', '2001:db8::c000:201'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ]) {
    expect(formatIpv6(parseIpv6(text!)!), text).toBe(canonical)
  }
  for (const bad of ['', ':::', '1::2::3', 'fd00::g', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', '::1.2.3', '::256.1.1.1', '192.168.7.1']) expect(parseIpv6(bad), bad).toBeUndefined()
})

test('prefixes: containment, lab prefixes (ULA, documentation), multicast', () => {
  const ula = parseCidr6('fd00:7::/64')!
  const prefix = { network: ula.address, prefix: ula.prefix }
  expect(contains6(prefix, parseIpv6('fd00:7::ffff')!)).toBe(true)
  expect(contains6(prefix, parseIpv6('fd00:8::1')!)).toBe(false)
  expect(isLabPrefix(prefix)).toBe(true)
  expect(isLabPrefix({ network: parseIpv6('2001:db8:5::')!, prefix: 48 })).toBe(true)
  expect(isLabPrefix({ network: parseIpv6('2001:4860::')!, prefix: 32 })).toBe(false)
  expect(isLabPrefix({ network: parseIpv6('fc00::')!, prefix: 6 })).toBe(false)
  expect(isMulticast6(parseIpv6('ff02::1')!)).toBe(true)
  expect(parseCidr6('fd00::/129')).toBeUndefined()
})
