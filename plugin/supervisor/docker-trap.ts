import { runCommand } from '../common/run-command.js'
import { acceptRuleArgs, bridgeNetfilterOn, forwardDrops } from '../common/forward-trap.js'

// Host mode fixes the Docker trap (common/forward-trap.ts) for its own bridges only,
// with an ACCEPT rule scoped to each bridge and labelled with the run, removed at
// teardown (or by the sweep); the global sysctl is never touched.

/** Returns the iptables commands that undo what it did (empty when nothing was needed). */
export async function openBridgeForwarding(bridges: string[], runId: string): Promise<string[][]> {
  if (!bridgeNetfilterOn()) return []
  const listed = await runCommand('iptables', ['-S', 'FORWARD'], { reject: false })
  if (listed.exitCode !== 0 || !forwardDrops(listed.stdout)) return []
  const undo: string[][] = []
  for (const bridge of bridges) {
    await runCommand('iptables', ['-I', ...acceptRuleArgs(bridge, runId)])
    undo.push(['iptables', '-D', ...acceptRuleArgs(bridge, runId)])
  }
  return undo
}
