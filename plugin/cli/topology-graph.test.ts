import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import projectConfig from '../../vitest.config.js'
import type { LabConfig } from '../config/config.js'
import { planLab } from '../config/lab-plan.js'
import { bridgeLines, guestRole, nicLines, topologyMermaid } from './topology-graph.js'
import { labConfigOf } from '../vitest/vitest-plugin.js'

const twoLans: LabConfig = {
  bridges: { lan1: { subnet: '10.1.0.0/24' }, lan2: { subnet: '10.2.0.0/24', address: '10.2.0.100' } },
  guests: {
    alice: { bridge: 'lan1', ip: '10.1.0.10', mac: '52:54:00:00:01:0a', routes: [{ to: '10.2.0.0/24', via: '10.1.0.1' }] },
    bob: { bridge: 'lan2', ip: '10.2.0.10', gateway: '10.2.0.1' },
    router: { nics: [{ bridge: 'lan1', ip: '10.1.0.1' }, { bridge: 'lan2', ip: '10.2.0.1' }], forwarding: true },
    probe: { nics: [{ bridge: 'lan1', ip: '10.1.0.50' }, { bridge: 'lan2', ip: '10.2.0.50' }] },
  },
}

describe('topologyMermaid', () => {
  const plan = planLab(twoLans)
  const mermaid = topologyMermaid(plan)

  test('roles: forwarding makes a router, several NICs without it a multi-homed guest', () => {
    expect(plan.guests.map((guest) => [guest.name, guestRole(guest)])).toEqual([
      ['alice', 'host'],
      ['bob', 'host'],
      ['router', 'router'],
      ['probe', 'multi-homed'],
    ])
  })

  test('bridges carry their subnet and their own (planned) address', () => {
    expect(mermaid).toContain('bridge_lan1[["lan1<br/>10.1.0.0/24<br/>bridge 10.1.0.254"]]')
    expect(mermaid).toContain('bridge_lan2[["lan2<br/>10.2.0.0/24<br/>bridge 10.2.0.100"]]')
  })

  test('one edge per NIC with its address, MAC (given or derived) and tap', () => {
    expect(mermaid).toContain('guest_alice ---|"10.1.0.10/24<br/>52:54:00:00:01:0a<br/>tap0"| bridge_lan1')
    const routerNics = plan.guests.find((guest) => guest.name === 'router')!.nics
    expect(mermaid).toContain(`guest_router ---|"10.1.0.1/24<br/>${routerNics[0]!.mac}<br/>tap2"| bridge_lan1`)
    expect(mermaid).toContain(`guest_router ---|"10.2.0.1/24<br/>${routerNics[1]!.mac}<br/>tap3"| bridge_lan2`)
    expect(mermaid.match(/---\|/g)).toHaveLength(6)
  })

  test('routers are hexagons with the router class; routes and gateways are shown', () => {
    expect(mermaid).toContain('guest_router{{"router<br/>x86_64, router (forwarding)"}}')
    expect(mermaid).toContain('class guest_router router')
    expect(mermaid).toContain('class guest_probe multihomed')
    expect(mermaid).toContain('guest_alice["alice<br/>x86_64<br/>route 10.2.0.0/24 via 10.1.0.1"]')
    expect(mermaid).toContain('guest_bob["bob<br/>x86_64<br/>route default via 10.2.0.1"]')
  })

  test('host mode shows no taps: qemu-bridge-helper names them', () => {
    expect(topologyMermaid(planLab({ ...twoLans, network: 'host' }))).toContain('guest_alice ---|"10.1.0.10/24<br/>52:54:00:00:01:0a"| bridge_lan1')
  })

  test('node ids stay valid and distinct for names Mermaid cannot take as they are', () => {
    const text = topologyMermaid(planLab({ bridges: { 'br.0': { subnet: '10.0.0.0/24' }, 'br-0': { subnet: '10.0.1.0/24' } }, guests: { a: { bridge: 'br.0', ip: '10.0.0.1' }, b: { bridge: 'br-0', ip: '10.0.1.1' } } }))
    expect(text).toContain('bridge_br_0[["br.0')
    expect(text).toContain('bridge_br_0_2[["br-0')
    expect(text).toContain('guest_b ---|"10.0.1.1/24')
    expect(text).toMatch(/guest_b ---\|[^|]*\| bridge_br_0_2$/m)
  })
})

test("the README shows the graph of the project's own router lab, as `vitest-qemu graph --project router` prints it", () => {
  const router = projectConfig.test!.projects!.find((project) => typeof project === 'object' && 'test' in project && project.test?.name === 'router') as { plugins: unknown[] }
  const lab = labConfigOf(router.plugins[0])!
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8')
  const shown = /```mermaid\n([\s\S]*?)```/.exec(readme)?.[1]
  expect(shown).toBe(topologyMermaid(planLab(lab, { root: join(import.meta.dirname, '..', '..') })))
})

test('a DHCP bridge shows its pool and MTU; a DHCP NIC is marked, a NIC with netem shows it', () => {
  const plan = planLab({ bridges: { lan: { subnet: '10.9.0.0/24', dhcp: true, mtu: 1400 } }, guests: { a: { bridge: 'lan', ip: 'dhcp', netem: { delay: '100ms' } } } })
  expect(bridgeLines(plan.bridges[0]!)).toEqual(['lan', '10.9.0.0/24', 'bridge 10.9.0.254', 'MTU 1400', 'DHCP 10.9.0.128-10.9.0.254'])
  expect(nicLines(plan, plan.guests[0]!.nics[0]!)).toEqual(['10.9.0.128/24 (DHCP)', plan.guests[0]!.nics[0]!.mac, 'tap0', 'MTU 1400', 'netem delay 100ms'])
})

test('NICs on a bridge with VLANs show theirs (VLAN 1 for those that name none)', () => {
  const plan = planLab({ bridges: { lan: { subnet: '10.9.0.0/24' } }, guests: { a: { bridge: 'lan', ip: '10.9.0.2', vlan: 10 }, b: { bridge: 'lan', ip: '10.9.0.3' } } })
  expect(nicLines(plan, plan.guests[0]!.nics[0]!)).toContain('VLAN 10')
  expect(nicLines(plan, plan.guests[1]!.nics[0]!)).toContain('VLAN 1')
})
