import { readFileSync } from 'node:fs'

// The seed's warning: with br_netfilter loaded (bridge-nf-call-iptables = 1), bridged
// frames go through iptables' FORWARD chain, where Docker's DROP policy kills IP
// between guests while ARP still works. What the trap looks like and the rule that
// opens one bridge: read by `doctor`, applied by the supervisor (docker-trap.ts).

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

