import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, defaultImagePaths, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// A bridge with the lab's DHCP and DNS server: a default-image guest and an own image
// (the default image's kernel and initramfs without an overlay, its init running its own
// DHCP client as `ip=...:dhcp` asks) each get a lease, known to their handles before the
// first test; a static guest keeps its address; every name resolves through the server.

const tag = randomBytes(3).toString('hex')
const names = { fixed: `fixed${tag}`, leased: `leased${tag}`, own: `ownd${tag}` }
let lab: StartedLab
let handles: Lab

beforeAll(async () => {
  const image = defaultImagePaths('x86_64')
  lab = await startLab({
    bridges: { lan: { subnet: '10.49.0.0/24', dhcp: true } },
    guests: {
      [names.fixed]: { bridge: 'lan', ip: '10.49.0.200' },
      [names.leased]: { bridge: 'lan', ip: 'dhcp' },
      [names.own]: { bridge: 'lan', ip: 'dhcp', kernel: image.kernel, initrd: image.initrd, ssh: false, agent: true },
    },
  })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

describe('the lab DHCP server', { timeout: 60_000 }, () => {
  test('DHCP guests hold the leased address their handles name, from the upper half of the subnet; the static guest keeps its own', async () => {
    const [fixed, leased, own] = [handles.guest(names.fixed), handles.guest(names.leased), handles.guest(names.own)]
    expect(fixed.ip).toBe('10.49.0.200')
    for (const guest of [leased, own]) {
      expect(guest.ip).toMatch(/^10\.49\.0\.(1[2-9]\d|2[0-5]\d)$/)
      expect(guest.ip).not.toBe(fixed.ip)
      expect(await guest.succeed('ip -4 -o addr show dev eth0')).toContain(`inet ${guest.ip}/24`)
      await expect(fixed).toReach(guest)
      await expect(guest).toReach(fixed)
    }
    expect(leased.ip).not.toBe(own.ip)
  })

  test("every guest's name resolves through the lab's DNS server, which a DHCP guest was told of", async () => {
    const bridge = lab.descriptor.bridges.find((candidate) => candidate.name === 'lan')!
    const leased = handles.guest(names.leased)
    expect(await leased.succeed('cat /etc/resolv.conf')).toContain(`nameserver ${bridge.address}`)
    for (const [name, ip] of [[names.own, handles.guest(names.own).ip], [names.fixed, '10.49.0.200'], [`${names.leased}.lab`, leased.ip]] as const) {
      // From the static guest, asking the server by its address; from the DHCP guest, through its resolv.conf.
      expect(await handles.guest(names.fixed).succeed(`nslookup ${name} ${bridge.address}`)).toContain(ip)
      expect(await leased.succeed(`nslookup ${name}`)).toContain(ip)
    }
  })
})
