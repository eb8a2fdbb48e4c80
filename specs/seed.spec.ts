import { test, expect } from 'vitest-qemu/test'

// The seed recipe (bridging two QEMU guests), as a spec: two guests on br0,
// 192.168.7.0/24, with the seed's MACs.

test('the guests reach each other both ways', async ({ guestA, guestB }) => {
  await expect(guestA).toReach(guestB)
  await expect(guestB).toReach(guestA)
})

test("each guest's ARP entry for the other holds the other's configured MAC", async ({ guestA, guestB }) => {
  await expect(guestA).toReach(guestB)
  await expect(guestA).toHaveArpEntryFor(guestB)
  await expect(guestB).toHaveArpEntryFor(guestA)
  expect(guestA.mac).toBe('52:54:00:12:34:50')
  expect(guestB.mac).toBe('52:54:00:12:34:51')
})

test('both taps are ports of the bridge', async ({ lab }) => {
  expect(await lab.bridgePorts('br0')).toEqual(['tap0', 'tap1'])
  const [bridge] = await lab.show('addr', 'dev', 'br0')
  expect(bridge?.operstate).toBe('UP')
})

test('the guests have the configured addresses and run the default x86_64 image', async ({ guestA, guestB }) => {
  expect(await guestA.succeed('ip -o -4 addr show eth0')).toContain('inet 192.168.7.1/24')
  expect(await guestB.succeed('cat /sys/class/net/eth0/address')).toBe('52:54:00:12:34:51\n')
  expect((await guestB.exec('uname -m')).stdout.trim()).toBe('x86_64')
  expect(await guestA.succeed('hostname')).toBe('guestA\n')
})
