import type { LabPlan } from '../config/lab-plan.js'

// VLAN access ports without the kernel's bridge VLAN filtering (not every kernel has it):
// a bridge forwards a frame between two of its ports only when both are in one VLAN
// (nftables, bridge family, forward hook: each flooded copy is checked against its own
// output port). Frames stay untagged, as on a switch's access ports; the bridge itself
// (the lab's side: SSH, readiness, DHCP) is not a forwarded port and reaches every VLAN.

export const VLAN_TABLE = 'vitest_qemu_vlans'

/** The nft script that keeps the lab's VLANs apart, or undefined when no NIC has a VLAN. */
export function vlanRuleset(plan: LabPlan): string | undefined {
  const ports = new Map<string, string[]>()
  for (const guest of plan.guests) {
    for (const nic of guest.nics) {
      if (nic.vlan === undefined) continue
      const key = `${nic.bridge} ${nic.vlan}`
      ports.set(key, [...(ports.get(key) ?? []), nic.tap])
    }
  }
  if (ports.size === 0) return undefined
  const set = (taps: string[]) => `{ ${taps.map((tap) => `"${tap}"`).join(', ')} }`
  const rules = [...ports.values()].map((taps) => `    iifname ${set(taps)} oifname != ${set(taps)} drop`)
  return [`table bridge ${VLAN_TABLE} {`, '  chain forward {', '    type filter hook forward priority 0; policy accept;', ...rules, '  }', '}', ''].join('\n')
}
