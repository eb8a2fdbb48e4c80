import type { GuestPlan, LabPlan } from '../config/lab-plan.js'
import { writeCpio } from '../images/cpio.js'
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
    guest.nics.forEach((nic, index) => lines.push(`${nic.ip}\t${index === 0 ? guest.name : `${guest.name}-${nic.bridge}`}`))
  }
  return `${lines.join('\n')}\n`
}

export function guestOverlay(plan: LabPlan, guest: GuestPlan, publicKey: string): Buffer {
  return writeCpio([
    { type: 'file', path: 'etc/hostname', data: `${guest.name}\n` },
    { type: 'file', path: 'etc/hosts', data: hostsFile(plan, guest) },
    { type: 'file', path: 'etc/vitest-qemu/nics', data: guest.nics.map((nic) => `${nic.mac} ${nic.ip}/${nic.prefix}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/gateway', data: guest.gateway ? `${guest.gateway}\n` : '' },
    { type: 'file', path: 'etc/vitest-qemu/routes', data: guest.routes.map((route) => `${route.to} ${route.via}\n`).join('') },
    { type: 'file', path: 'etc/vitest-qemu/forwarding', data: guest.forwarding ? '1\n' : '0\n' },
    { type: 'file', path: 'root/.ssh/authorized_keys', data: `${publicKey.trim()}\n`, mode: 0o600 },
  ])
}
