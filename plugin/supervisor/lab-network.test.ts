import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { networkCommands } from './lab-network.js'

const config = { bridges: { br0: { subnet: '10.9.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.9.0.1' } } }

test("in host mode each bridge gets the run's alias right after it is made, so only this run's bridge is ever deleted", () => {
  expect(networkCommands(planLab({ ...config, network: 'host' }), '0a1b2c3d')).toEqual([
    'link add name br0 type bridge',
    'link set dev br0 alias vitest-qemu:0a1b2c3d',
    'addr add 10.9.0.254/24 dev br0',
    'link set dev br0 up',
  ])
})

test('in namespace mode no alias is needed: the namespace takes the bridge along', () => {
  expect(networkCommands(planLab(config), '0a1b2c3d').some((line) => line.includes('alias'))).toBe(false)
})
