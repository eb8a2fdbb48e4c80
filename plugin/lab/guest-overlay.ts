import type { GuestPlan, LabPlan } from '../config/lab-plan.js'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type CpioEntry, writeCpio } from '../images/cpio.js'
import { HOST_NAME } from '../protocol/lab-descriptor.js'

// What makes a default-image guest itself: its hostname, its NICs' addresses, the
// other guests' names, and the run's SSH key. Appended to the shared initramfs as a
// second cpio archive, so the cached image is never modified.

export function hostsFile(plan: LabPlan, guest?: GuestPlan): string {
  const lines = ['127.0.0.1\tlocalhost']
  // The test machine, as this guest reaches it: the address of its first NIC's bridge.
  const bridge = guest && plan.bridges.find((candidate) => candidate.name === guest.nics[0]?.bridge)
  if (bridge) lines.push(`${bridge.address}\t${HOST_NAME}`)
  for (const guest of plan.guests) {
    guest.nics.forEach((nic, index) => {
      const name = index === 0 ? guest.name : `${guest.name}-${nic.bridge}`
      lines.push(`${nic.ip}\t${name}`)
      if (nic.ip6) lines.push(`${nic.ip6}\t${name}`)
    })
  }
  return `${lines.join('\n')}\n`
}

/** Where the guest's `files` wait in the initramfs until its init copies them in place (with their folders). */
const FILES_ROOT = 'etc/vitest-qemu/files'

/** A config's `files` as cpio entries under FILES_ROOT: text, host files with their mode, host folders with their tree. */
export function guestFileEntries(files: GuestPlan['files']): CpioEntry[] {
  const entries: CpioEntry[] = [{ type: 'dir', path: FILES_ROOT, mode: 0o755 }]
  const dirs = new Set<string>([FILES_ROOT])
  const ensureDir = (path: string, mode = 0o755) => {
    const parent = path.slice(0, path.lastIndexOf('/'))
    if (parent && !dirs.has(parent)) ensureDir(parent)
    if (!dirs.has(path)) {
      dirs.add(path)
      entries.push({ type: 'dir', path, mode })
    }
  }
  const addHost = (source: string, path: string, mode?: number) => {
    const info = statSync(source)
    if (info.isDirectory()) {
      ensureDir(path, mode ?? info.mode & 0o7777)
      for (const name of readdirSync(source).sort()) addHost(join(source, name), `${path}/${name}`)
    } else {
      ensureDir(path.slice(0, path.lastIndexOf('/')))
      entries.push({ type: 'file', path, data: readFileSync(source), mode: mode ?? info.mode & 0o7777 })
    }
  }
  for (const [guestPath, file] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    const path = `${FILES_ROOT}${guestPath}`
    if (typeof file === 'string') {
      ensureDir(path.slice(0, path.lastIndexOf('/')))
      entries.push({ type: 'file', path, data: file, mode: 0o644 })
    } else addHost(file.source, path, file.mode)
  }
  return entries
}

/** The setup commands as numbered scripts, run in order by the guest's init. */
function setupEntries(setup: string[]): CpioEntry[] {
  if (setup.length === 0) return []
  return [
    { type: 'dir', path: 'etc/vitest-qemu/setup', mode: 0o755 },
    ...setup.map((command, index): CpioEntry => ({ type: 'file', path: `etc/vitest-qemu/setup/${String(index + 1).padStart(3, '0')}`, data: `${command}\n`, mode: 0o644 })),
  ]
}

/** Each service as a folder of its command and ready check, started in name order by the guest's init. */
function serviceEntries(services: GuestPlan['services']): CpioEntry[] {
  if (services.length === 0) return []
  const entries: CpioEntry[] = [{ type: 'dir', path: 'etc/vitest-qemu/services', mode: 0o755 }]
  for (const service of services) {
    const dir = `etc/vitest-qemu/services/${service.name}`
    entries.push({ type: 'dir', path: dir, mode: 0o755 }, { type: 'file', path: `${dir}/command`, data: `${service.command}\n`, mode: 0o644 })
    if (service.ready && 'port' in service.ready) entries.push({ type: 'file', path: `${dir}/ready-port`, data: `${service.ready.port}\n`, mode: 0o644 })
    else if (service.ready) entries.push({ type: 'file', path: `${dir}/ready-command`, data: `${service.ready.command}\n`, mode: 0o644 })
  }
  return entries
}

export function guestOverlay(plan: LabPlan, guest: GuestPlan, publicKey: string): Buffer {
  return writeCpio([
    ...serviceEntries(guest.services),
    ...(Object.keys(guest.files).length > 0 ? guestFileEntries(guest.files) : []),
    ...setupEntries(guest.setup),
    { type: 'file', path: 'etc/hostname', data: `${guest.name}\n` },
    { type: 'file', path: 'etc/hosts', data: hostsFile(plan, guest) },
    { type: 'file', path: 'etc/vitest-qemu/nics', data: guest.nics.map((nic) => `${nic.mac} ${nic.dhcp ? 'dhcp' : `${nic.ip}/${nic.prefix}`} ${nic.mtu ?? ''}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/nics6', data: guest.nics.filter((nic) => nic.ip6).map((nic) => `${nic.mac} ${nic.ip6}/${nic.prefix6}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/netem', data: guest.nics.filter((nic) => nic.netem).map((nic) => `${nic.mac} ${nic.netem}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/gateway', data: guest.gateway ? `${guest.gateway}\n` : '' },
    { type: 'file', path: 'etc/vitest-qemu/routes', data: guest.routes.map((route) => `${route.to} ${route.via}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/forwarding', data: guest.forwarding ? '1\n' : '0\n' },
    { type: 'file', path: 'root/.ssh/authorized_keys', data: `${publicKey.trim()}\n`, mode: 0o600 },
  ])
}
