// IPv4 addresses and subnets as 32-bit numbers: the arithmetic config validation needs.

export interface Subnet {
  network: number
  prefix: number
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.')
}

/** Parses `a.b.c.d/n`; returns undefined for anything else. */
export function parseCidr(text: string): { address: number; prefix: number } | undefined {
  const [addressText, prefixText, extra] = text.split('/')
  if (extra !== undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText)) return undefined
  const address = parseIpv4(addressText ?? '')
  const prefix = Number(prefixText)
  if (address === undefined || prefix > 32) return undefined
  return { address, prefix }
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0
}

export function networkOf(address: number, prefix: number): number {
  return (address - (address % 2 ** (32 - prefix))) >>> 0
}

export function broadcastOf(subnet: Subnet): number {
  return subnet.network + 2 ** (32 - subnet.prefix) - 1
}

export function contains(subnet: Subnet, address: number): boolean {
  return networkOf(address, subnet.prefix) === subnet.network
}

export function formatSubnet(subnet: Subnet): string {
  return `${formatIpv4(subnet.network)}/${subnet.prefix}`
}
