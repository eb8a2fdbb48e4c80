// IPv6 addresses and prefixes as 128-bit integers (BigInt): parsing (every textual form,
// embedded IPv4 included), the canonical text of RFC 5952, and prefix arithmetic.

const ALL = (1n << 128n) - 1n

export function parseIpv6(text: string): bigint | undefined {
  if (typeof text !== 'string' || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined
  let head = text
  let v4: number[] | undefined
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.')) {
    v4 = text.slice(lastColon + 1).split('.').map(Number)
    if (v4.length !== 4 || v4.some((part, i) => !/^\d{1,3}$/.test(text.slice(lastColon + 1).split('.')[i]!) || part > 255)) return undefined
    head = `${text.slice(0, lastColon + 1)}0:0`
  }
  const halves = head.split('::')
  if (halves.length > 2) return undefined
  const groups = (half: string) => (half === '' ? [] : half.split(':'))
  const left = groups(halves[0]!)
  const right = halves.length === 2 ? groups(halves[1]!) : []
  if ([...left, ...right].some((group) => !/^[0-9a-fA-F]{1,4}$/.test(group))) return undefined
  const missing = 8 - left.length - right.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right]
  let value = all.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n)
  if (v4) value = (value & ~0xffffffffn) | BigInt(((v4[0]! << 24) >>> 0) + (v4[1]! << 16) + (v4[2]! << 8) + v4[3]!)
  return value
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt((7 - i) * 16)) & 0xffffn))
  let best = { start: -1, length: 0 }
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i }
    i = j
  }
  const hex = groups.map((group) => group.toString(16))
  if (best.start < 0) return hex.join(':')
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`
}

export interface Prefix6 {
  network: bigint
  prefix: number
}

export function parseCidr6(text: string): { address: bigint; prefix: number } | undefined {
  const [addressText, prefixText, ...rest] = String(text).split('/')
  if (rest.length > 0 || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined
  const address = parseIpv6(addressText!)
  const prefix = Number(prefixText)
  return address === undefined || prefix > 128 ? undefined : { address, prefix }
}

export function maskOf6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL
}

export function networkOf6(address: bigint, prefix: number): bigint {
  return address & maskOf6(prefix)
}

export function contains6(prefix: Prefix6, address: bigint): boolean {
  return networkOf6(address, prefix.prefix) === prefix.network
}

export function formatPrefix6(prefix: Prefix6): string {
  return `${formatIpv6(prefix.network)}/${prefix.prefix}`
}

/** fc00::/7 (unique local) or 2001:db8::/32 (documentation): prefixes that reach nothing outside a lab. */
export function isLabPrefix(prefix: Prefix6): boolean {
  const ula = prefix.prefix >= 7 && networkOf6(prefix.network, 7) === 0xfcn << 120n
  const documentation = prefix.prefix >= 32 && networkOf6(prefix.network, 32) === 0x20010db8n << 96n
  return ula || documentation
}

export function isMulticast6(address: bigint): boolean {
  return address >> 120n === 0xffn
}
