import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { dnsmasqArgs } from './dhcp-server.js'

test('dnsmasq serves only its bridge, leases only the reserved MACs, and knows every guest by name', () => {
  const plan = planLab({
    bridges: { lan: { subnet: '10.9.0.0/24', dhcp: true }, other: { subnet: '10.8.0.0/24' } },
    guests: { a: { bridge: 'lan', ip: 'dhcp', mac: '52:54:00:00:00:0a' }, b: { nics: [{ bridge: 'lan', ip: '10.9.0.5' }, { bridge: 'other', ip: '10.8.0.5' }] } },
  })
  const args = dnsmasqArgs(plan, plan.bridges[0]!, '/run/x/dhcp-lan.leases')
  expect(args).toContain('--interface=lan')
  expect(args).toContain('--bind-interfaces')
  expect(args).toContain('--conf-file=/dev/null')
  expect(args).toContain('--dhcp-range=10.9.0.0,static,255.255.255.0,infinite')
  expect(args.filter((arg) => arg.startsWith('--dhcp-host='))).toEqual(['--dhcp-host=52:54:00:00:00:0a,10.9.0.128,a,infinite'])
  expect(args).toContain('--dhcp-option=option:dns-server,10.9.0.254')
  expect(args.filter((arg) => arg.startsWith('--host-record='))).toEqual([
    '--host-record=host.vitest-qemu.internal,10.9.0.254',
    '--host-record=a,a.lab,10.9.0.128',
    '--host-record=b,b.lab,10.9.0.5',
    '--host-record=b-other,b-other.lab,10.8.0.5',
  ])
})
