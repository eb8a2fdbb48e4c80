import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { vlanRuleset } from './vlan-ports.js'

test('ports of one VLAN forward only among themselves; NICs without a VLAN on that bridge are in VLAN 1', () => {
  const plan = planLab({
    bridges: { lan: { subnet: '10.60.0.0/24' }, other: { subnet: '10.61.0.0/24' } },
    guests: {
      a: { bridge: 'lan', ip: '10.60.0.2', vlan: 10 },
      b: { bridge: 'lan', ip: '10.60.0.3', vlan: 10 },
      c: { bridge: 'lan', ip: '10.60.0.4', vlan: 20 },
      d: { nics: [{ bridge: 'lan', ip: '10.60.0.5' }, { bridge: 'other', ip: '10.61.0.5' }] },
    },
  })
  expect(plan.guests.map((guest) => guest.nics.map((nic) => nic.vlan))).toEqual([[10], [10], [20], [1, undefined]])
  expect(vlanRuleset(plan)).toBe(
    [
      'table bridge vitest_qemu_vlans {',
      '  chain forward {',
      '    type filter hook forward priority 0; policy accept;',
      '    iifname { "tap0", "tap1" } oifname != { "tap0", "tap1" } drop',
      '    iifname { "tap2" } oifname != { "tap2" } drop',
      '    iifname { "tap3" } oifname != { "tap3" } drop',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
})

test('no VLAN anywhere: no rules', () => {
  expect(vlanRuleset(planLab({ bridges: { lan: { subnet: '10.60.0.0/24' } }, guests: { a: { bridge: 'lan', ip: '10.60.0.2' } } }))).toBeUndefined()
})
