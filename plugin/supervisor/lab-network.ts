import { runCommand } from '../common/run-command.js'
import type { LabPlan } from '../config/lab-plan.js'

// The lab's layer 2, created inside the supervisor's private network namespace:
// loopback, one bridge per configured bridge (with an address, so the supervisor can
// reach guests), one tap per guest NIC. Deleting the namespace deletes all of it.
// In host mode only the bridges are made, in the host's namespace, and deleted again.
// Names always follow `name`/`dev`: `ip link add b type bridge` takes `b` for a keyword.

export function networkCommands(plan: LabPlan): string[] {
  // In host mode qemu-bridge-helper makes each guest's tap; the host's loopback is not ours.
  const host = plan.network === 'host'
  const lines = host ? [] : ['link set lo up']
  for (const bridge of plan.bridges) {
    lines.push(`link add name ${bridge.name} type bridge`)
    lines.push(`addr add ${bridge.address}/${bridge.prefix} dev ${bridge.name}`)
    lines.push(`link set dev ${bridge.name} up`)
  }
  for (const guest of host ? [] : plan.guests) {
    for (const nic of guest.nics) {
      lines.push(`tuntap add dev ${nic.tap} mode tap`)
      lines.push(`link set dev ${nic.tap} master ${nic.bridge}`)
      lines.push(`link set dev ${nic.tap} up`)
    }
  }
  return lines
}

/** What removes the network again: nothing in namespace mode (the namespace takes it all along), the bridges in host mode. */
export function networkUndo(plan: LabPlan): string[][] {
  return plan.network === 'host' ? plan.bridges.map((bridge) => ['ip', 'link', 'del', 'dev', bridge.name]) : []
}

export async function createLabNetwork(plan: LabPlan): Promise<void> {
  const commands = networkCommands(plan)
  try {
    await runCommand('ip', ['-batch', '-'], { input: `${commands.join('\n')}\n` })
  } catch (error) {
    const e = error as { stderr?: string; shortMessage?: string }
    throw new Error(`vitest-qemu: creating the lab network failed: ${e.stderr?.trim() || e.shortMessage}\ncommands:\n${commands.join('\n')}`)
  }
}
