import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// Two LANs joined by a router guest (see the `router` project in vitest.config.ts):
// alice and carol on lan1, bob on lan2, router on both with forwarding on.

describe('routing', () => {
  test('alice reaches bob through the router, both ways', async ({ alice, bob }) => {
    await expect(alice).toHaveRouteTo(bob)
    await expect(alice).toReach(bob)
    await expect(bob).toReach(alice)
  })

  test('with forwarding off on the router, alice does not reach bob, and the failure says why', async ({ alice, bob, router }) => {
    await router.succeed('echo 0 > /proc/sys/net/ipv4/ip_forward')
    try {
      const failure = await expect(alice).toReach(bob, { timeout: 3 }).catch((error: Error) => error)
      expect(String(failure)).toContain('expected alice (10.1.0.10) to reach bob (10.2.0.10)')
      expect(String(failure)).toContain('10.2.0.0/24 via 10.1.0.1')
      expect(String(failure)).toContain('--- bob (10.2.0.10')
    } finally {
      await router.succeed('echo 1 > /proc/sys/net/ipv4/ip_forward')
    }
    await expect(alice).toReach(bob)
  })

  test('every guest knows every other by name', async ({ alice }) => {
    const hosts = await alice.succeed('cat /etc/hosts')
    for (const line of ['10.1.0.10\talice', '10.1.0.20\tcarol', '10.2.0.10\tbob', '10.1.0.1\trouter', '10.2.0.1\trouter-lan2']) expect(hosts).toContain(line)
  })
})

describe('matchers', () => {
  test('toBeOnBridge: the tap is a port of the bridge and the bridge learned the MAC there', async ({ router, alice }) => {
    await expect(router).toBeOnBridge('lan1')
    await expect(router).toBeOnBridge('lan2')
    await expect(alice).toBeOnBridge('lan1')
    await expect(alice).not.toBeOnBridge('lan2')
  })

  test('toHaveOpenPort: from the lab and from another guest, through the router', async ({ alice, bob }) => {
    await expect(alice).toHaveOpenPort(22)
    await expect(alice).toHaveOpenPort(22, { from: bob })
    await expect(alice).not.toHaveOpenPort(23)
    await expect(alice).not.toHaveOpenPort(23, { from: bob })
  })

  test('an address no guest has is not reachable, and the failure explains itself', async ({ alice }) => {
    await expect(alice).not.toReach('10.1.0.99')
    const failure = await expect(alice).toReach('10.1.0.99', { timeout: 2 }).catch((error: Error) => error)
    expect(failure).toBeInstanceOf(Error)
    expect(String(failure)).toContain('expected alice (10.1.0.10) to reach 10.1.0.99')
    expect(String(failure)).toContain('# ip neigh')
    expect(String(failure)).toContain('# last console lines')
  })

  test('toHaveRouteTo: a network the guest has no route to', async ({ alice }) => {
    await expect(alice).not.toHaveRouteTo('10.9.0.0/24')
  })
})

describe('faults', () => {
  test('a link set down cuts the guest off', async ({ lab, alice, carol }) => {
    await lab.link(alice).down()
    await expect(alice).not.toReach(carol)
  })

  test('and is back up in the next test: faults end with the test that made them', async ({ alice, carol }) => {
    await expect(alice).toReach(carol)
  })

  test('a partition separates two groups both ways until it heals', async ({ lab, alice, bob, carol, router }) => {
    const partition = await lab.partition([alice, router], [carol])
    await expect(alice).not.toReach(carol)
    await expect(carol).not.toReach(alice)
    await expect(bob).not.toReach(carol)
    await expect(carol).not.toReach(router)
    await expect(alice).toReach(bob)
    await partition.heal()
    for (const [from, to] of [[alice, carol], [carol, alice], [bob, carol], [carol, router]] as const) await expect(from).toReach(to)
  })
})

describe('capture', () => {
  test('a capture on the bridge holds the ARP exchange and the ICMP echo requests and replies', async ({ lab, alice, carol }) => {
    // Forget the neighbour first, so the capture sees ARP resolve it.
    await alice.succeed(`ip neigh flush dev eth0`)
    const capture = await lab.capture('lan1')
    await expect(alice).toReach(carol, { count: 3 })
    await capture.stop()
    expect(await capture.count(`icmp.type == 8 && ip.src == ${alice.ip} && ip.dst == ${carol.ip}`)).toBeGreaterThanOrEqual(3)
    expect(await capture.count(`icmp.type == 0 && ip.src == ${carol.ip} && ip.dst == ${alice.ip}`)).toBeGreaterThanOrEqual(3)
    expect(await capture.count(`arp.opcode == 1 && arp.dst.proto_ipv4 == ${carol.ip}`)).toBeGreaterThanOrEqual(1)
    expect(await capture.count(`arp.opcode == 2 && arp.src.proto_ipv4 == ${carol.ip} && eth.src == ${carol.mac}`)).toBeGreaterThanOrEqual(1)
  })
})

describe('netem', () => {
  const medianRtt = async (from: { serial: { exec(command: string): Promise<{ stdout: string }> } }, ip: string) => {
    const { stdout } = await from.serial.exec(`ping -c 7 -i 0.3 ${ip}`)
    const times = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((match) => Number(match[1])).sort((a, b) => a - b)
    expect(times.length).toBeGreaterThanOrEqual(5)
    return times[Math.floor(times.length / 2)]!
  }

  test('200 ms of delay on a guest makes the median RTT 180-260 ms', async ({ lab, alice, carol }) => {
    await lab.netem(alice, { delay: 200 })
    const rtt = await medianRtt(alice, carol.ip)
    expect(rtt).toBeGreaterThanOrEqual(180)
    expect(rtt).toBeLessThanOrEqual(260)
  })

  test('and after that test the RTT is back under 20 ms', async ({ alice, carol }) => {
    expect(await medianRtt(alice, carol.ip)).toBeLessThan(20)
  })
})
