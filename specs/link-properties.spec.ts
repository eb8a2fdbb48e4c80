import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, defaultImagePaths, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// Link properties declared in the config, in force from boot: a bridge's MTU on every
// NIC of it (tap and guest, an own image's over its console), a NIC's own MTU, and a
// NIC's netem delay.

const tag = randomBytes(3).toString('hex')
const names = { small: `small${tag}`, big: `big${tag}`, slow: `slow${tag}`, own: `own${tag}` }
let lab: StartedLab
let handles: Lab

beforeAll(async () => {
  const image = defaultImagePaths('x86_64')
  lab = await startLab({
    bridges: { lan: { subnet: '10.48.0.0/24', mtu: 1400 } },
    guests: {
      [names.small]: { bridge: 'lan', ip: '10.48.0.2' },
      [names.big]: { bridge: 'lan', ip: '10.48.0.3', mtu: 1500 },
      [names.slow]: { bridge: 'lan', ip: '10.48.0.4', netem: { delay: '100ms' } },
      // An own image (the default image's kernel and initramfs, no overlay): its MTU comes over the console.
      [names.own]: { bridge: 'lan', ip: '10.48.0.5', kernel: image.kernel, initrd: image.initrd, ssh: false, agent: true },
    },
  })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

const mtuOf = async (name: string) => (await handles.guest(name).succeed('cat /sys/class/net/eth0/mtu')).trim()
/** The minimum round-trip time of `count` pings, in ms (busybox: "round-trip min/avg/max = a/b/c ms"). */
const minRtt = async (from: string, to: string) => {
  const output = await handles.guest(from).succeed(`ping -c 4 -W 3 ${to}`)
  const match = /min\/avg\/max = ([\d.]+)\//.exec(output)
  if (!match) throw new Error(`no round-trip times in:\n${output}`)
  return Number(match[1])
}

describe('link properties from the config', { timeout: 60_000 }, () => {
  test("a bridge's MTU of 1400 holds in its guests, an own image's too, and a NIC's own 1500 in its guest", async () => {
    expect(await mtuOf(names.small)).toBe('1400')
    expect(await mtuOf(names.own)).toBe('1400')
    expect(await mtuOf(names.big)).toBe('1500')
  })

  test('the MTU is enforced: a 1500-byte packet to a 1400 guest is dropped, a 1400-byte one arrives', async () => {
    const big = handles.guest(names.big)
    // -s is the ICMP payload: + 28 bytes of headers. The sender's MTU is 1500, so nothing is fragmented.
    expect((await big.exec('ping -c 2 -W 2 -s 1372 10.48.0.2')).exitCode).toBe(0)
    const tooBig = await big.exec('ping -c 2 -W 2 -s 1472 10.48.0.2')
    expect(tooBig.exitCode, tooBig.stdout).not.toBe(0)
    expect(tooBig.stdout).toMatch(/2 packets transmitted, 0 packets received/)
  })

  test("a NIC's netem delay of 100ms shows in every round trip to it; a guest without one answers faster", async () => {
    const delayed = await minRtt(names.small, '10.48.0.4')
    const baseline = await minRtt(names.small, '10.48.0.3')
    expect(delayed).toBeGreaterThanOrEqual(100)
    expect(baseline).toBeLessThan(delayed - 50)
  })
})
