import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { networkCommands } from './lab-network.js'

const config = { bridges: { br0: { subnet: '10.9.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.9.0.1' } } }

test("in host mode each bridge gets the run's alias right after it is made, so only this run's bridge is ever deleted", () => {
  const commands = networkCommands(planLab({ ...config, network: 'host' }), '0a1b2c3d')
  expect(commands[0]).toMatch(/^link add name br0 address 02(:[0-9a-f]{2}){5} type bridge mcast_snooping 0$/)
  expect(commands.slice(1)).toEqual([
    'link set dev br0 alias vitest-qemu:0a1b2c3d',
    'addr add 10.9.0.254/24 dev br0',
    'link set dev br0 up',
  ])
})

test('in namespace mode no alias is needed: the namespace takes the bridge along', () => {
  expect(networkCommands(planLab(config), '0a1b2c3d').some((line) => line.includes('alias'))).toBe(false)
})

test("MTUs: a NIC's on its tap before it joins the bridge; a bridge's last, so its ports cannot lower it", () => {
  const lines = networkCommands(planLab({ bridges: { br0: { subnet: '192.168.7.0/24', mtu: 1400 } }, guests: { a: { bridge: 'br0', ip: '192.168.7.1' }, b: { bridge: 'br0', ip: '192.168.7.2', mtu: 1500 } } }), '0a1b2c3d')
  expect(lines.filter((line) => line.includes('mtu'))).toEqual(['link set dev tap0 mtu 1400', 'link set dev tap1 mtu 1500', 'link set dev br0 mtu 1400'])
  expect(lines.indexOf('link set dev tap0 mtu 1400')).toBeLessThan(lines.indexOf('link set dev tap0 master br0'))
  expect(lines.at(-1)).toBe('link set dev br0 mtu 1400')
})

test("a bridge's MAC is the same in every run of a config (restored guests keep it in their ARP caches) and differs between subnets", () => {
  const mac = (third: number, runId: string) => {
    const plan = planLab({ bridges: { br0: { subnet: `10.9.${third}.0/24` } }, guests: { a: { bridge: 'br0', ip: `10.9.${third}.1` } } })
    return / address (\S+) /.exec(networkCommands(plan, runId).find((line) => line.startsWith('link add name br0'))!)?.[1]
  }
  expect(mac(0, 'aaaaaaaa')).toMatch(/^02:/)
  expect(mac(0, 'aaaaaaaa')).toBe(mac(0, 'bbbbbbbb'))
  expect(mac(0, 'aaaaaaaa')).not.toBe(mac(1, 'aaaaaaaa'))
})
