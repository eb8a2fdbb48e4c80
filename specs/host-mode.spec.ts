import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { attachLab, startLab } from 'vitest-qemu'
import { acceptRuleArgs } from '../plugin/common/forward-trap.js'
import { BRIDGE_CONF, footprintOf, hostNetworkState, keepHostModeState, leftovers } from './support/host-state.js'

// Host mode, the seed's way: a bridge in the host's namespace, guests attached by
// qemu-bridge-helper. The plugin never edits /etc/qemu/bridge.conf; this spec, as root,
// stages the host the way a user would (the ACL line, and Docker's FORWARD DROP policy
// with br_netfilter on), and puts both back afterwards.

const CONF = BRIDGE_CONF
const bridge = 'vqhost0'
const isRoot = process.getuid?.() === 0
const config = (network: 'host') => ({
  network,
  bridges: { [bridge]: { subnet: '10.213.7.0/24' } },
  guests: { hostA: { bridge, ip: '10.213.7.1' }, hostB: { bridge, ip: '10.213.7.2' } },
})

describe.skipIf(!isRoot)('host mode', { timeout: 120_000 }, () => {
  const hostState = keepHostModeState()

  test('without the ACL line it refuses, naming the exact line to add, and creates nothing', async () => {
    if (hostState.saved() !== undefined) writeFileSync(CONF, hostState.saved()!.replace(new RegExp(`^allow (${bridge}|all)\\s*$`, 'gm'), ''))
    const error = await startLab(config('host')).catch((caught: Error) => caught)
    expect(String(error)).toContain(`echo 'allow ${bridge}' | sudo tee -a ${CONF}`)
    expect((await execa('ip', ['link', 'show', 'dev', bridge], { reject: false })).exitCode).not.toBe(0)
  })

  test("with the ACL, guests on a host bridge reach each other despite Docker's DROP policy; afterwards the host is as before", async ({ annotate }) => {
    mkdirSync('/etc/qemu', { recursive: true })
    writeFileSync(CONF, `${hostState.saved() ?? ''}allow ${bridge}\n`)
    await execa('iptables', ['-P', 'FORWARD', 'DROP'])
    await annotate(`staged as root: 'allow ${bridge}' in ${CONF}, iptables -P FORWARD DROP, bridge-nf-call-iptables=${readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim()}`)
    const before = await hostNetworkState()

    const lab = await startLab(config('host'))
    try {
      const inHostNamespace = footprintOf(lab.descriptor)
      expect(inHostNamespace.namespace).toBe((await execa('readlink', ['/proc/self/ns/net'])).stdout)
      // The lab shares the host's namespace: what must go are its processes, its folder, its bridge.
      const footprint = { ...inHostNamespace, namespace: '' }
      // The bridge and the helper's taps are in the host's namespace, where `tshark -i vqhost0` sees them.
      const ports = JSON.parse((await execa('ip', ['-j', 'link', 'show', 'master', bridge])).stdout) as { ifname: string }[]
      expect(ports).toHaveLength(2)
      expect((await execa('iptables', ['-S', 'FORWARD'])).stdout).toContain(`-A FORWARD -i ${bridge} -o ${bridge} -m comment --comment "vitest-qemu run ${lab.descriptor.runId}" -j ACCEPT`)
      const handles = attachLab(lab.descriptor)
      const [hostA, hostB] = [handles.guest('hostA'), handles.guest('hostB')]
      expect(await hostA.succeed(`ping -c 1 -w 10 ${hostB.ip} >/dev/null && echo reached`)).toBe('reached\n')
      expect(await hostB.succeed(`ping -c 1 -w 10 ${hostA.ip} >/dev/null && echo reached`)).toBe('reached\n')
      // The trap is real: without the run's rule, the DROP policy stops the guests' IP traffic.
      const rule = acceptRuleArgs(bridge, lab.descriptor.runId)
      await execa('iptables', ['-D', ...rule])
      expect((await hostA.serial.exec(`ping -c 1 -w 3 ${hostB.ip}`)).exitCode).not.toBe(0)
      await execa('iptables', ['-I', ...rule])
      handles.close()
      await lab.stop()
      expect(await leftovers(footprint)).toEqual([])
    } finally {
      await lab.stop()
    }
    expect(await hostNetworkState()).toBe(before)
  })
})
