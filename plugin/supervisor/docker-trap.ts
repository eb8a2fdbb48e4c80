import { readFileSync } from 'node:fs'
import { runCommand } from '../common/run-command.js'

// The seed's warning: with br_netfilter loaded (bridge-nf-call-iptables = 1), bridged
// frames go through iptables' FORWARD chain, where Docker's DROP policy kills IP
// between guests while ARP still works. Host mode fixes it for its own bridge only,
// with an ACCEPT rule scoped to that bridge and labelled with the run, removed at
// teardown (or by the sweep); the global sysctl is never touched.

export function bridgeNetfilterOn(): boolean {
  try {
    return readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() === '1'
  } catch {
    return false
  }
}

/** True when FORWARD would drop or reject traffic that no earlier rule accepts. */
export function forwardDrops(rules: string): boolean {
  return /^-P FORWARD (DROP|REJECT)/m.test(rules) || /^-A FORWARD .*-j (DROP|REJECT)/m.test(rules) || /^-A FORWARD .*-j DOCKER/m.test(rules)
}

export function acceptRuleArgs(bridge: string, runId: string): string[] {
  return ['FORWARD', '-i', bridge, '-o', bridge, '-m', 'comment', '--comment', `vitest-qemu run ${runId}`, '-j', 'ACCEPT']
}

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
