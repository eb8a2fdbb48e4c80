import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../common/deadline.js'
import type { BridgePlan, LabPlan } from '../config/lab-plan.js'
import { HOST_NAME } from '../protocol/lab-descriptor.js'

// The lab's DHCP and DNS server: one dnsmasq per bridge with `dhcp`, started by the
// supervisor on that bridge only (inside the lab's namespace, or on the run's own bridge
// in host mode). Every DHCP NIC has its address reserved for its MAC when the lab is
// planned (config/lab-plan.ts), so the address is known before boot and the server hands
// out nothing else; every guest's name (and `NAME.lab`) resolves through it.

export const DNS_DOMAIN = 'lab'
/** How long dnsmasq may take to fail at start (a port taken, a bad option) before it is taken as running. */
const START_CHECK_MS = 300

/** dnsmasq's arguments for `bridge`: no config file, no host files, nothing but this bridge. */
export function dnsmasqArgs(plan: LabPlan, bridge: BridgePlan, leaseFile: string): string[] {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--bind-interfaces',
    `--interface=${bridge.name}`,
    '--except-interface=lo',
    '--user=root',
    '--group=root',
    '--pid-file',
    '--log-facility=-',
    '--log-dhcp',
    '--dhcp-authoritative',
    `--dhcp-leasefile=${leaseFile}`,
    // static: only the reserved MACs get an address; the lease never runs out in a long watch session.
    `--dhcp-range=${bridge.subnet.split('/')[0]},static,${netmaskOf(bridge.prefix)},infinite`,
    // No router (a guest's `gateway` is its own config); the bridge answers DNS.
    '--dhcp-option=option:router',
    `--dhcp-option=option:dns-server,${bridge.address}`,
    `--domain=${DNS_DOMAIN}`,
    // Every name is answered here, never sent on (there is nowhere to send it): a name
    // without an IPv6 address gets "no such data", not a refusal.
    '--local=/#/',
    `--host-record=${HOST_NAME},${bridge.address}`,
  ]
  for (const guest of plan.guests) {
    guest.nics.forEach((nic, index) => {
      const name = index === 0 ? guest.name : `${guest.name}-${nic.bridge}`
      args.push(`--host-record=${name},${name}.${DNS_DOMAIN},${nic.ip}${nic.ip6 ? `,${nic.ip6}` : ''}`)
      if (nic.dhcp && nic.bridge === bridge.name) args.push(`--dhcp-host=${nic.mac},${nic.ip},${name},infinite`)
    })
  }
  return args
}

function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 255).join('.')
}

export class DhcpServers {
  private readonly servers = new Map<string, { child: ChildProcess; leaseFile: string; log: string }>()

  /** Starts one server per DHCP bridge; rejects with dnsmasq's own words when one cannot start. */
  async start(plan: LabPlan, runDir: string, logDir: string): Promise<void> {
    for (const bridge of plan.bridges.filter((candidate) => candidate.dhcp)) {
      const leaseFile = join(runDir, `dhcp-${bridge.name}.leases`)
      const log = join(logDir, `dhcp-${bridge.name}.log`)
      // setpriv: dnsmasq dies with the supervisor, however it dies.
      const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'dnsmasq', ...dnsmasqArgs(plan, bridge, leaseFile)], { stdio: ['ignore', 'pipe', 'pipe'] })
      const output = createWriteStream(log)
      let text = ''
      for (const stream of [child.stdout!, child.stderr!]) {
        stream.on('data', (chunk: Buffer) => {
          if (text.length < 64 * 1024) text += chunk.toString()
          output.write(chunk)
        })
      }
      this.servers.set(bridge.name, { child, leaseFile, log })
      const early = await Promise.race([
        new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`})`))),
        new Promise<string>((resolve) => child.once('error', (error) => resolve(error.message))),
        sleep(START_CHECK_MS).then(() => undefined),
      ])
      if (early !== undefined) throw new Error(`vitest-qemu: the DHCP server (dnsmasq) on bridge ${bridge.name} could not start: ${early}\n${text.trim()}`)
    }
  }

  /** Resolves once `mac` holds a lease on `bridge`; else fails at the deadline, naming the DHCP stage and the server's log. */
  async waitForLease(bridge: string, mac: string, deadline: number, signal?: AbortSignal): Promise<void> {
    const server = this.servers.get(bridge)
    if (!server) throw new Error(`no DHCP server on bridge ${bridge}`)
    for (;;) {
      const leases = await readFile(server.leaseFile, 'utf8').catch(() => '')
      if (leases.split('\n').some((line) => line.split(' ')[1]?.toLowerCase() === mac.toLowerCase())) return
      if (signal?.aborted) throw signal.reason
      if (Date.now() >= deadline) throw new TimeoutError(`DHCP: no lease for ${mac} from the lab's DHCP server on bridge ${bridge} (its log: ${server.log})`)
      await sleep(200)
    }
  }

  stopAll(): void {
    for (const { child } of this.servers.values()) child.kill('SIGKILL')
  }
}
