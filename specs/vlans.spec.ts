import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// VLAN access ports on one bridge, one subnet: guests of VLAN 10 reach each other, the
// guest of VLAN 20 reaches neither (not even by ARP), and the lab reaches all three.

const tag = randomBytes(3).toString('hex')
const names = { a: `vl${tag}a`, b: `vl${tag}b`, c: `vl${tag}c` }
let lab: StartedLab
let handles: Lab

beforeAll(async () => {
  lab = await startLab({
    bridges: { lan: { subnet: '10.60.0.0/24' } },
    guests: {
      [names.a]: { bridge: 'lan', ip: '10.60.0.2', vlan: 10 },
      [names.b]: { bridge: 'lan', ip: '10.60.0.3', vlan: 10 },
      [names.c]: { bridge: 'lan', ip: '10.60.0.4', vlan: 20 },
    },
  })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

describe('VLANs', { timeout: 60_000 }, () => {
  test('guests of one VLAN reach each other; a guest of another VLAN on the same bridge and subnet reaches neither', async () => {
    const [a, b, c] = [handles.guest(names.a), handles.guest(names.b), handles.guest(names.c)]
    expect(a.descriptor.nics[0]).toMatchObject({ vlan: 10 })
    await expect(a).toReach(b)
    await expect(b).toReach(a)
    await expect(a).toHaveArpEntryFor(b)
    await expect(c).not.toReach(a)
    await expect(c).not.toReach(b)
    await expect(a).not.toReach(c)
    // Not even ARP crosses: VLAN 20 never learnt a MAC of VLAN 10.
    await expect(c).not.toHaveArpEntryFor(a)
    await expect(a).not.toHaveArpEntryFor(c)
  })

  test('the lab reaches every VLAN: each guest answers and reaches the bridge', async () => {
    for (const guest of [handles.guest(names.a), handles.guest(names.b), handles.guest(names.c)]) {
      expect(await guest.ssh.exec('echo ok')).toMatchObject({ stdout: 'ok\n', exitCode: 0 })
      await expect(guest).toReach(lab.descriptor.bridges[0]!.address)
    }
  })
})
