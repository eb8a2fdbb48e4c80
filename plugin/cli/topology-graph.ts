import type { BridgePlan, GuestPlan, LabPlan } from '../config/lab-plan.js'

// A lab's topology as text a reader can take in at a glance: bridges with their
// subnets, guests with the address and MAC of each NIC, and routers marked as such.
// Works on the LabPlan, so derived MACs, taps and bridge addresses are the ones a run uses.

/** router: forwards between its NICs; multi-homed: several NICs, no forwarding; host: one NIC. */
export type GuestRole = 'router' | 'multi-homed' | 'host'

export function guestRole(guest: GuestPlan): GuestRole {
  if (guest.forwarding) return 'router'
  return guest.nics.length > 1 ? 'multi-homed' : 'host'
}

const roleText: Record<GuestRole, string> = { router: 'router (forwarding)', 'multi-homed': 'several NICs, no forwarding', host: '' }

export function bridgeLines(bridge: BridgePlan): string[] {
  return [
    bridge.name,
    bridge.subnet,
    `bridge ${bridge.address}`,
    ...(bridge.subnet6 ? [bridge.subnet6] : []),
    ...(bridge.mtu !== undefined ? [`MTU ${bridge.mtu}`] : []),
    ...(bridge.dhcp ? [`DHCP ${bridge.dhcp.first}-${bridge.dhcp.last}`] : []),
  ]
}

/** The guest's name, architecture and role, then its routes. */
export function guestLines(guest: GuestPlan): string[] {
  const role = roleText[guestRole(guest)]
  return [guest.name, role ? `${guest.arch}, ${role}` : guest.arch, ...routeLines(guest)]
}

export function routeLines(guest: GuestPlan): string[] {
  const lines = guest.routes.map((route) => `route ${route.to} via ${route.via}`)
  if (guest.gateway) lines.push(`route default via ${guest.gateway}`)
  return lines
}

/** One NIC: address, MAC and, in namespace mode, the lab's tap (host mode's taps are named by qemu-bridge-helper). */
export function nicLines(plan: LabPlan, nic: GuestPlan['nics'][number]): string[] {
  return [
    `${nic.ip}/${nic.prefix}${nic.dhcp ? ' (DHCP)' : ''}`,
    ...(nic.ip6 ? [`${nic.ip6}/${nic.prefix6}`] : []),
    nic.mac,
    ...(plan.network === 'namespace' ? [nic.tap] : []),
    ...(nic.vlan !== undefined ? [`VLAN ${nic.vlan}`] : []),
    ...(nic.mtu !== undefined ? [`MTU ${nic.mtu}`] : []),
    ...(nic.netem ? [`netem ${nic.netem}`] : []),
  ]
}

/** A Mermaid flowchart (GitHub renders these in Markdown). */
export function topologyMermaid(plan: LabPlan): string {
  const ids = new NodeIds()
  const bridgeIds = new Map(plan.bridges.map((bridge) => [bridge.name, ids.take(`bridge_${bridge.name}`)]))
  const guestIds = new Map(plan.guests.map((guest) => [guest.name, ids.take(`guest_${guest.name}`)]))
  const lines = ['flowchart TB']
  for (const bridge of plan.bridges) lines.push(`  ${bridgeIds.get(bridge.name)}[["${mermaidText(bridgeLines(bridge))}"]]`)
  for (const guest of plan.guests) {
    const text = mermaidText(guestLines(guest))
    // Routers are hexagons, so they stand out even where the class colours are not shown.
    lines.push(`  ${guestIds.get(guest.name)}${guestRole(guest) === 'router' ? `{{"${text}"}}` : `["${text}"]`}`)
  }
  for (const guest of plan.guests) {
    for (const nic of guest.nics) lines.push(`  ${guestIds.get(guest.name)} ---|"${mermaidText(nicLines(plan, nic))}"| ${bridgeIds.get(nic.bridge)}`)
  }
  lines.push('  classDef bridge fill:#e8f0fe,stroke:#3b6fd8')
  lines.push('  classDef router fill:#fde2c8,stroke:#c45d00')
  lines.push('  classDef multihomed fill:#f3e8fd,stroke:#7b3fc4')
  const classed = (role: GuestRole) => plan.guests.filter((guest) => guestRole(guest) === role).map((guest) => guestIds.get(guest.name)).join(',')
  if (plan.bridges.length > 0) lines.push(`  class ${[...bridgeIds.values()].join(',')} bridge`)
  if (classed('router')) lines.push(`  class ${classed('router')} router`)
  if (classed('multi-homed')) lines.push(`  class ${classed('multi-homed')} multihomed`)
  return `${lines.join('\n')}\n`
}

/** Lines of a quoted Mermaid label: `"` would end the label, so it becomes an entity. */
function mermaidText(lines: string[]): string {
  return lines.map((line) => line.replace(/"/g, '#quot;')).join('<br/>')
}

/** Node ids from names: only letters, digits and `_`, unique even when two names map to the same id. */
class NodeIds {
  private readonly taken = new Set<string>()

  take(name: string): string {
    const base = name.replace(/[^A-Za-z0-9_]/g, '_')
    let id = base
    for (let n = 2; this.taken.has(id); n++) id = `${base}_${n}`
    this.taken.add(id)
    return id
  }
}
