import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll } from 'vitest'
import { execa } from 'execa'
import type { LabDescriptor } from 'vitest-qemu'

// Observations of the host, for specs that check a lab leaves nothing behind.

/** The host's network state that a lab must never change. */
export async function hostNetworkState(): Promise<string> {
  const read = async (command: string, args: string[]) => {
    const result = await execa(command, args, { reject: false })
    return `$ ${command} ${args.join(' ')}\n${result.stdout}${result.stderr}`
  }
  return [
    await read('ip', ['-d', 'link']),
    await read('ip', ['addr']),
    await read('ip', ['route']),
    await read('ip', ['rule']),
    await read('sysctl', ['net.ipv4.ip_forward']),
    await read('sh', ['-c', 'sysctl net.bridge 2>/dev/null || true']),
    await read('sh', ['-c', 'command -v nft >/dev/null && nft list ruleset || echo "(no nft)"']),
    await read('sh', ['-c', 'command -v iptables-save >/dev/null && iptables-save | grep -v "^#" | sed "s/\\[[0-9]*:[0-9]*\\]/[counters]/" || echo "(no iptables)"']),
    await read('sh', ['-c', 'cat /etc/qemu/bridge.conf 2>/dev/null || echo "(no /etc/qemu/bridge.conf)"']),
  ].join('\n')
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Pids of processes whose network namespace is `nsLink` (as read from /proc/PID/ns/net). */
export function processesInNamespace(nsLink: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === nsLink) pids.push(Number(entry))
    } catch {
      // the process ended while we looked
    }
  }
  return pids
}

export interface LabFootprint {
  pids: number[]
  /** The lab's own network namespace; '' for a host-mode lab, which has none. */
  namespace: string
  runDir: string
}

/**
 * The network namespace of a live process, as read from /proc/PID/ns/net, held open for
 * as long as this worker lives: the kernel reuses a freed namespace's number at once, so
 * once a lab's namespace was gone, a lab started meanwhile (by another run on the machine)
 * could read as "the lab's namespace". Held, the number stays this namespace's, and what
 * is found in it is the lab's.
 */
export function holdNamespaceOf(pid: number): string {
  const path = `/proc/${pid}/ns/net`
  const fd = openSync(path, 'r')
  const namespace = readlinkSync(path)
  // The pid may have ended and been reused between the two calls: the fd must be that namespace.
  if (readlinkSync(`/proc/self/fd/${fd}`) !== namespace) {
    closeSync(fd)
    throw new Error(`process ${pid} ended while its namespace was read`)
  }
  heldNamespaces.add(fd)
  return namespace
}
const heldNamespaces = new Set<number>()

export function footprintOf(descriptor: LabDescriptor): LabFootprint {
  return {
    pids: [descriptor.supervisorPid, ...descriptor.guests.map((guest) => guest.qemuPid)],
    namespace: holdNamespaceOf(descriptor.supervisorPid),
    runDir: descriptor.runDir,
  }
}

/** What of a lab still exists: live processes, processes in its namespace, its runtime folder. */
export async function leftovers(footprint: LabFootprint): Promise<string[]> {
  const { existsSync } = await import('node:fs')
  const left: string[] = []
  for (const pid of footprint.pids) if (isAlive(pid)) left.push(`process ${pid}`)
  for (const pid of footprint.namespace ? processesInNamespace(footprint.namespace) : []) left.push(`process ${pid} in the lab's namespace ${footprint.namespace}`)
  if (existsSync(footprint.runDir)) left.push(`runtime folder ${footprint.runDir}`)
  return left
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  return check()
}

/** Pids of processes whose environment holds NAME=VALUE (e.g. the workers of one fixture run). */
export function processesWithEnv(name: string, value: string): number[] {
  const pids: number[] = []
  const needle = `${name}=${value}\0`
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(needle)) pids.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return pids
}

export const BRIDGE_CONF = '/etc/qemu/bridge.conf'

/**
 * For specs that stage the host as a host-mode user would (bridge.conf's ACL, Docker's
 * FORWARD DROP): saves both before the suite and puts them back after it. `saved()` is
 * bridge.conf's text as it was (undefined when there was none).
 */
export function keepHostModeState(): { saved(): string | undefined } {
  const confDirExisted = existsSync('/etc/qemu')
  let savedConf: string | undefined
  let savedPolicy = 'ACCEPT'
  beforeAll(async () => {
    savedConf = existsSync(BRIDGE_CONF) ? readFileSync(BRIDGE_CONF, 'utf8') : undefined
    savedPolicy = /^-P FORWARD (\w+)/m.exec((await execa('iptables', ['-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT'
  })
  afterAll(async () => {
    if (savedConf === undefined) rmSync(BRIDGE_CONF, { force: true })
    else writeFileSync(BRIDGE_CONF, savedConf)
    if (!confDirExisted) rmSync('/etc/qemu', { recursive: true, force: true })
    await execa('iptables', ['-P', 'FORWARD', savedPolicy])
  })
  return { saved: () => savedConf }
}
