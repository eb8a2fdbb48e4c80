import { createHash } from 'node:crypto'

// MAC addresses: parsing, the checks that make one usable for a guest NIC, and the
// stable derived address given to a NIC whose config names none.

export function parseMac(text: string): string | undefined {
  const normalized = text.trim().toLowerCase().replace(/-/g, ':')
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(normalized) ? normalized : undefined
}

export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1
}

/** A locally administered unicast MAC that depends only on the guest name and NIC index. */
export function deriveMac(guest: string, nicIndex: number, salt = 0): string {
  const digest = createHash('sha256').update(`${guest}/${nicIndex}/${salt}`).digest()
  const bytes = [0x02, digest[0]!, digest[1]!, digest[2]!, digest[3]!, digest[4]!]
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':')
}
