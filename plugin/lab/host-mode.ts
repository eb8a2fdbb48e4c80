import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { BRIDGE_HELPER } from '../qemu/qemu-args.js'
import { runCommand } from '../common/run-command.js'
import { contains, parseCidr, parseIpv4 } from '../config/ipv4.js'
import type { LabPlan } from '../config/lab-plan.js'

// Host mode (`network: 'host'`): the seed's own way, bridges in the host's namespace and
// guests attached through qemu-bridge-helper, for people who want `tshark -i br0` or
// to reach guests from the host. Everything it needs is checked before anything is
// created; system files are never edited, the user is told the exact line to add.

export const BRIDGE_CONF = '/etc/qemu/bridge.conf'

/** Bridges the helper's ACL allows: `allow NAME`, `allow all`, `deny ...`, `include FILE`. */
export function allowedBridges(confPath: string, seen = new Set<string>()): { allowAll: boolean; allowed: Set<string>; denied: Set<string> } {
  const result = { allowAll: false, allowed: new Set<string>(), denied: new Set<string>() }
  if (seen.has(confPath) || !existsSync(confPath)) return result
  seen.add(confPath)
  for (const raw of readFileSync(confPath, 'utf8').split('\n')) {
    const [keyword, argument] = raw.replace(/#.*/, '').trim().split(/\s+/)
    if (!keyword || !argument) continue
    if (keyword === 'allow' && argument === 'all') result.allowAll = true
    else if (keyword === 'allow') result.allowed.add(argument)
    else if (keyword === 'deny') result.denied.add(argument)
    else if (keyword === 'include') {
      const included = allowedBridges(resolve(dirname(confPath), argument), seen)
      result.allowAll ||= included.allowAll
      for (const name of included.allowed) result.allowed.add(name)
      for (const name of included.denied) result.denied.add(name)
    }
  }
  return result
}

export async function checkHostMode(plan: LabPlan, confPath = BRIDGE_CONF): Promise<void> {
  const problems: string[] = []
  if (process.getuid?.() !== 0) {
    problems.push("network: 'host' creates bridges in the host's namespace and needs root (CAP_NET_ADMIN); run as root, or use the default network: 'namespace', which needs no privileges")
  }
  if (!existsSync(BRIDGE_HELPER)) problems.push(`${BRIDGE_HELPER} is missing (Debian/Ubuntu: apt-get install qemu-system-common)`)
  const acl = allowedBridges(confPath)
  for (const bridge of plan.bridges) {
    const allowed = (acl.allowAll || acl.allowed.has(bridge.name)) && !acl.denied.has(bridge.name)
    if (!allowed) {
      problems.push(
        `bridges.${bridge.name}: qemu-bridge-helper's ACL ${confPath} does not allow it. vitest-qemu does not edit system files; add the line yourself:\n` +
          `      sudo mkdir -p ${dirname(confPath)} && echo 'allow ${bridge.name}' | sudo tee -a ${confPath}`,
      )
    }
    const exists = await runCommand('ip', ['link', 'show', 'dev', bridge.name], { reject: false })
    if (exists.exitCode === 0) problems.push(`bridges.${bridge.name}: an interface of that name already exists on this host (another host-mode run, or one of yours); remove it or choose another name`)
  }
  const routes = JSON.parse((await runCommand('ip', ['-j', 'route', 'show'], { reject: false })).stdout || '[]') as { dst: string; dev: string }[]
  for (const bridge of plan.bridges) {
    const subnet = parseCidr(bridge.subnet)!
    for (const route of routes) {
      const dst = route.dst === 'default' ? undefined : parseCidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`)
      if (dst && (contains({ network: subnet.address, prefix: subnet.prefix }, dst.address) || contains({ network: dst.address, prefix: dst.prefix }, parseIpv4(bridge.address)!))) {
        problems.push(`bridges.${bridge.name}.subnet: ${bridge.subnet} overlaps the host's route to ${route.dst} on ${route.dev}; choose a subnet the host does not use`)
      }
    }
  }
  if (problems.length > 0) throw new Error(`vitest-qemu: host mode cannot start:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
}
