import { runCommand } from '../common/run-command.js'
import { acceptRuleArgs, bridgeNetfilterOn, forwardDrops } from '../common/forward-trap.js'
import type { UndoJournal } from '../run/undo-journal.js'

// Host mode fixes the Docker trap (common/forward-trap.ts) for its own bridges only,
// with an ACCEPT rule scoped to each bridge and labelled with the run, removed at
// teardown (or by the sweep); the global sysctl is never touched. Each rule is
// journaled before it is inserted, so a failure halfway loses none of the earlier ones.

/** @param host the host's side (tests give their own) */
export async function openBridgeForwarding(bridges: string[], runId: string, journal: UndoJournal, host = { runCommand, bridgeNetfilterOn }): Promise<void> {
  if (!host.bridgeNetfilterOn()) return
  const listed = await host.runCommand('iptables', ['-S', 'FORWARD'], { reject: false })
  if (listed.exitCode !== 0 || !forwardDrops(listed.stdout)) return
  for (const bridge of bridges) {
    journal.add({ kind: 'iptables-rule', bridge, runId })
    await host.runCommand('iptables', ['-I', ...acceptRuleArgs(bridge, runId)])
  }
}
