import { runCommand } from '../common/run-command.js'
import type { LabPlan } from '../config/lab-plan.js'
import { deriveMac } from '../config/mac.js'
import { bridgeAlias, type UndoJournal } from '../run/undo-journal.js'
import { vlanRuleset } from './vlan-ports.js'

// The lab's layer 2, created inside the supervisor's private network namespace:
// loopback, one bridge per configured bridge (with an address, so the supervisor can
// reach guests), one tap per guest NIC. Deleting the namespace deletes all of it.
// In host mode only the bridges are made, in the host's namespace, each journaled before
// it is made and marked with the run's alias, so that only this run's bridge is ever
// deleted again (common/undo-actions.ts).
// Names always follow `name`/`dev`: `ip link add b type bridge` takes `b` for a keyword.

export function networkCommands(plan: LabPlan, runId: string): string[] {
  // In host mode qemu-bridge-helper makes each guest's tap; the host's loopback is not ours.
  const host = plan.network === 'host'
  const lines = host ? [] : ['link set lo up']
  for (const bridge of plan.bridges) {
    // No IGMP/MLD snooping: multicast is flooded like a plain switch's, and the bridge sends
    // no membership reports of its own into the captures (it joins 224.0.0.106 to snoop).
    // A MAC of its own, the same in every run of this config: a guest restored from a snapshot
    // still holds the bridge's address in its ARP cache (else it would follow its lowest port's).
    lines.push(`link add name ${bridge.name} address ${deriveMac(`bridge ${bridge.subnet}`, bridge.prefix)} type bridge mcast_snooping 0`)
    if (host) lines.push(`link set dev ${bridge.name} alias ${bridgeAlias(runId)}`)
    lines.push(`addr add ${bridge.address}/${bridge.prefix} dev ${bridge.name}`)
    // nodad: usable at once, not after duplicate address detection's second or two.
    if (bridge.address6) lines.push(`addr add ${bridge.address6}/${bridge.prefix6} dev ${bridge.name} nodad`)
    lines.push(`link set dev ${bridge.name} up`)
  }
  for (const guest of host ? [] : plan.guests) {
    for (const nic of guest.nics) {
      lines.push(`tuntap add dev ${nic.tap} mode tap`)
      // A bridge drops a frame larger than the port it leaves by: the tap's MTU is the guest's.
      if (nic.mtu !== undefined) lines.push(`link set dev ${nic.tap} mtu ${nic.mtu}`)
      lines.push(`link set dev ${nic.tap} master ${nic.bridge}`)
      lines.push(`link set dev ${nic.tap} up`)
    }
  }
  // Last: a bridge follows its ports' MTU until one is set on it (host mode: the helper's
  // taps take the bridge's).
  for (const bridge of plan.bridges) if (bridge.mtu !== undefined) lines.push(`link set dev ${bridge.name} mtu ${bridge.mtu}`)
  return lines
}

/**
 * Makes the network. In host mode each bridge is journaled first; nothing needs
 * journaling in namespace mode (the namespace takes it all along).
 */
export async function createLabNetwork(plan: LabPlan, runId: string, journal: UndoJournal): Promise<void> {
  if (plan.network === 'host') for (const bridge of plan.bridges) journal.add({ kind: 'bridge', name: bridge.name, runId })
  const commands = networkCommands(plan, runId)
  try {
    await runCommand('ip', ['-batch', '-'], { input: `${commands.join('\n')}\n` })
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string }
    throw new Error(`vitest-qemu: creating the lab network failed: ${e.stderr?.trim() || e.shortMessage}\ncommands:\n${commands.join('\n')}`)
  }
  // VLANs (namespace mode only, so the namespace takes the table along too).
  const vlans = vlanRuleset(plan)
  if (vlans === undefined) return
  try {
    await runCommand('nft', ['-f', '-'], { input: vlans })
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string }
    throw new Error(`vitest-qemu: keeping the lab's VLANs apart failed (nftables, bridge family): ${e.stderr?.trim() || e.shortMessage}\nrules:\n${vlans}`)
  }
}
