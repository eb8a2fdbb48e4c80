import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { GuestPlan, ServicePlan } from '../config/lab-plan.js'
import { shellQuote } from '../common/shell-quote.js'

// What an image of the user's own gets over its console once its shell answers: what the
// default image's init does from its initramfs. First the network the config describes
// beyond the kernel's `ip=` (the addresses of the NICs after the first, routes,
// forwarding), then the config's files, its setup commands and its services, in that
// order. Every step is one shell command, built here (pure, unit-tested) and run by
// guest-process.ts over the console. Interfaces are taken as eth0, eth1… in NIC order.

export interface ConsoleStep {
  /** What the step does, for errors: "route to 10.2.0.0/24", "file /etc/app.conf". */
  what: string
  command: string
  /** Setup commands: a failure names the command and shows its output. */
  setup?: { index: number; command: string }
}

/** Bytes of a file per command (base64 grows them by a third; the console types long commands in pieces). */
const FILE_CHUNK_BYTES = 3 * 1024

/** Where a service's output goes: the same place as on the default image, so failure artifacts find it. */
export const serviceLogPath = (name: string) => `/var/log/vitest-qemu/${name}.log`

export function networkSteps(guest: GuestPlan): ConsoleStep[] {
  const steps: ConsoleStep[] = []
  guest.nics.forEach((nic, index) => {
    const dev = `eth${index}`
    // The kernel's ip= sets no MTU, so every NIC's comes from here; before the address, as on the default image.
    if (nic.mtu !== undefined) {
      steps.push({ what: `MTU ${nic.mtu} on ${dev}`, command: `if command -v ip >/dev/null 2>&1; then ip link set ${dev} mtu ${nic.mtu}; else ifconfig ${dev} mtu ${nic.mtu}; fi` })
    }
    if (index === 0) return
    steps.push({
      what: `address ${nic.ip}/${nic.prefix} on ${dev}`,
      // iproute2 where there is one, else busybox's or net-tools' ifconfig.
      command: `if command -v ip >/dev/null 2>&1; then ip addr add ${nic.ip}/${nic.prefix} dev ${dev} && ip link set ${dev} up; else ifconfig ${dev} ${nic.ip} netmask ${nic.netmask} up; fi`,
    })
  })
  for (const route of guest.routes) {
    const [network, prefix] = route.to.split('/')
    const netmask = prefixToNetmask(Number(prefix ?? 32))
    steps.push({
      what: `route to ${route.to} via ${route.via}`,
      command: `if command -v ip >/dev/null 2>&1; then ip route replace ${route.to} via ${route.via}; else route add -net ${network} netmask ${netmask} gw ${route.via}; fi`,
    })
  }
  guest.nics.forEach((nic, index) => {
    if (!nic.ip6) return
    // Needs iproute2's or busybox's ip; no duplicate address detection, so the address works at once.
    steps.push({ what: `IPv6 address ${nic.ip6}/${nic.prefix6} on eth${index}`, command: `echo 0 > /proc/sys/net/ipv6/conf/eth${index}/accept_dad; ip -6 addr add ${nic.ip6}/${nic.prefix6} dev eth${index}` })
  })
  if (guest.forwarding) steps.push({ what: 'IPv4 forwarding', command: 'echo 1 > /proc/sys/net/ipv4/ip_forward' })
  if (guest.forwarding && guest.nics.some((nic) => nic.ip6)) steps.push({ what: 'IPv6 forwarding', command: 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding' })
  guest.nics.forEach((nic, index) => {
    // iproute2's tc by its path: busybox's tc applet, first on many PATHs, knows no netem.
    if (nic.netem) steps.push({ what: `netem on eth${index} (needs iproute2's tc and sch_netem)`, command: `tc=/sbin/tc; [ -x $tc ] || tc=/usr/sbin/tc; [ -x $tc ] || tc=tc; $tc qdisc replace dev eth${index} root netem ${nic.netem}` })
  })
  return steps
}

/** The config's files, each written in base64 pieces (any bytes survive the console), with its folders and mode. */
export function fileSteps(files: GuestPlan['files']): ConsoleStep[] {
  const steps: ConsoleStep[] = []
  const write = (path: string, data: Buffer, mode: number) => {
    const dir = path.slice(0, path.lastIndexOf('/')) || '/'
    const quoted = shellQuote(path)
    steps.push({ what: `file ${path}`, command: `command -v base64 >/dev/null 2>&1 || { echo 'this image has no base64 command, which writing files over the console needs' >&2; exit 127; }; mkdir -p ${shellQuote(dir)} && : > ${quoted}` })
    for (let offset = 0; offset < data.length; offset += FILE_CHUNK_BYTES) {
      const piece = data.subarray(offset, offset + FILE_CHUNK_BYTES).toString('base64')
      steps.push({ what: `file ${path}`, command: `printf '%s' '${piece}' | base64 -d >> ${quoted}` })
    }
    steps.push({ what: `file ${path}`, command: `chmod ${mode.toString(8)} ${quoted}` })
  }
  const addHost = (source: string, path: string, mode?: number) => {
    const info = statSync(source)
    if (info.isDirectory()) {
      steps.push({ what: `folder ${path}`, command: `mkdir -p ${shellQuote(path)} && chmod ${(mode ?? info.mode & 0o7777).toString(8)} ${shellQuote(path)}` })
      for (const name of readdirSync(source).sort()) addHost(join(source, name), `${path}/${name}`)
    } else write(path, readFileSync(source), mode ?? info.mode & 0o7777)
  }
  for (const [path, file] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof file === 'string') write(path, Buffer.from(file), 0o644)
    else addHost(file.source, path, file.mode)
  }
  return steps
}

export function setupSteps(setup: string[]): ConsoleStep[] {
  // Each in a subshell, from /root as on the default image: an `exit` or `cd` in one cannot end or move the console's shell.
  return setup.map((command, index) => ({ what: `setup command ${index + 1}`, command: `(cd /root 2>/dev/null || cd /; ${command}\n)`, setup: { index: index + 1, command } }))
}

/**
 * Starts a service in the background, its output in its log; when it exits, one write to
 * the console reports it (the supervisor watches for that line, as on the default image).
 */
export function serviceStartCommand(service: ServicePlan): string {
  const log = serviceLogPath(service.name)
  // Real newlines inside the quotes: one printf, so that no other console line lands inside the report.
  const report = `"vitest-qemu-guest: service ${service.name} exited with $rc; its last output:
$(tail -n 20 ${log})
vitest-qemu-guest: end of service output"`
  return (
    `mkdir -p /var/log/vitest-qemu && ( ( cd /root 2>/dev/null || cd /; exec sh -c ${shellQuote(service.command)} ) </dev/null >${log} 2>&1; rc=$?; ` +
    `printf '%s\\n' ${report} > /dev/console ) </dev/null >/dev/null 2>&1 &`
  )
}

/** A command that exits 0 once the service is ready (a listening TCP port, or its own check). */
export function serviceReadyCommand(service: ServicePlan): string | undefined {
  if (!service.ready) return undefined
  if ('port' in service.ready) {
    const hex = service.ready.port.toString(16).toUpperCase().padStart(4, '0')
    return `grep -qE ':${hex} [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null`
  }
  return `(cd /root 2>/dev/null || cd /; ${service.ready.command}\n) </dev/null >/dev/null 2>&1`
}

function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 255).join('.')
}
