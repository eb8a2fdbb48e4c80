import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, defaultImagePaths, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// A dual-stack bridge: default-image guests and an own image (configured over its
// console) hold their IPv6 addresses beside their link-local ones, reach each other by
// address and by `{ family: 6 }`, learn each other through NDP, and a capture of the
// bridge sees the ICMPv6 echo requests.

const tag = randomBytes(3).toString('hex')
const names = { a: `six${tag}a`, b: `six${tag}b`, own: `six${tag}o` }
let lab: StartedLab
let handles: Lab

beforeAll(async () => {
  const image = defaultImagePaths('x86_64')
  lab = await startLab({
    bridges: { lan: { subnet: '10.50.0.0/24', subnet6: 'fd00:50::/64' } },
    guests: {
      [names.a]: { bridge: 'lan', ip: '10.50.0.2', ip6: 'fd00:50::2' },
      [names.b]: { bridge: 'lan', ip: '10.50.0.3', ip6: 'fd00:50:0:0::3' },
      [names.own]: { bridge: 'lan', ip: '10.50.0.4', ip6: 'fd00:50::4', kernel: image.kernel, initrd: image.initrd, ssh: false, agent: true },
    },
  })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

describe('IPv6', { timeout: 60_000 }, () => {
  test('guests hold their IPv6 address (canonical on the handle) and keep their link-local one', async () => {
    const b = handles.guest(names.b)
    expect(b.ip6).toBe('fd00:50::3')
    expect(b.descriptor.nics[0]).toMatchObject({ ip6: 'fd00:50::3', prefix6: 64 })
    for (const guest of [handles.guest(names.a), b, handles.guest(names.own)]) {
      expect(await guest.succeed('ip -6 addr show dev eth0')).toContain(`inet6 ${guest.ip6}/64`)
      // The link-local address comes once the kernel sees the link up, a moment after boot.
      expect(await guest.waitUntilSucceeds("ip -6 addr show dev eth0 | grep 'inet6 fe80::'", { timeout: 10_000 }).catch(() => '')).toMatch(/inet6 fe80::[0-9a-f:]+\/64/)
    }
  })

  test('guests reach each other over IPv6 by address and by { family: 6 }, with NDP entries for each other', async () => {
    const [a, b, own] = [handles.guest(names.a), handles.guest(names.b), handles.guest(names.own)]
    await expect(a).toReach('fd00:50::3')
    await expect(b).toReach(a, { family: 6 })
    await expect(own).toReach(a, { family: 6 })
    await expect(a).toReach(own, { family: 6 })
    await expect(a).toHaveNeighborEntryFor(b, { family: 6 })
    await expect(b).toHaveNeighborEntryFor(a, { family: 6 })
    // family 4 (the default) is ARP, as toHaveArpEntryFor
    await expect(a).toReach(b)
    await expect(a).toHaveNeighborEntryFor(b)
    // The bridge holds an address of the prefix too: the lab's side reaches guests over IPv6.
    await expect(a).toReach(lab.descriptor.bridges[0]!.address6!)
  })

  test('a capture of the bridge counts the ICMPv6 echo requests', async () => {
    const [a, b] = [handles.guest(names.a), handles.guest(names.b)]
    const capture = await handles.capture('lan')
    await a.succeed(`ping -c 3 -i 0.2 ${b.ip6}`)
    await capture.stop()
    expect(await capture.count(`icmpv6.type == 128 && ipv6.dst == ${b.ip6}`)).toBe(3)
  })

  test('a partition cuts IPv6 too, and healing brings it back', async () => {
    const [a, b] = [handles.guest(names.a), handles.guest(names.b)]
    const cut = await handles.partition([a], [b])
    try {
      await expect(a).not.toReach(b, { family: 6 })
      await expect(a).not.toReach(b.ip6!)
    } finally {
      await cut.heal()
    }
    await expect(a).toReach(b, { family: 6 })
  })

  test('netem delays IPv6 traffic as it does IPv4', async () => {
    const [a, b] = [handles.guest(names.a), handles.guest(names.b)]
    const rtt = async () => Number(/time=([\d.]+)/.exec(await a.succeed(`ping -c 1 -W 3 ${b.ip6}`))![1])
    const before = await rtt()
    const link = await handles.netem(a, { delay: '150ms' })
    try {
      expect(await rtt()).toBeGreaterThanOrEqual(before + 140)
    } finally {
      await link.clear()
    }
    expect(await rtt()).toBeLessThan(before + 100)
  })
})
