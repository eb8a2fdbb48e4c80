import { archProfiles } from '../config/arch.js'
import type { GuestPlan } from '../config/lab-plan.js'

// The QEMU command line of one guest. Pure: everything it needs is passed in, so the
// exact command can be unit-tested and shown to users.

/** The names the guest agent finds its virtio-serial ports by. */
export const AGENT_PORT = 'org.vitest-qemu.agent'
export const AGENT_CONTROL_PORT = 'org.vitest-qemu.agent-control'

/**
 * A restore's saved state reaches QEMU as this file descriptor, opened by whoever starts it
 * (guest-process.ts): QEMU reads the file itself, without a `cat` and a pipe between
 * (a 60 MB state loads about a third faster on a busy machine).
 */
export const INCOMING_FD = 3

/** QEMU's helper that attaches a guest to a bridge of the host (host mode). */
export const BRIDGE_HELPER = '/usr/lib/qemu/qemu-bridge-helper'

export interface QemuLaunch {
  accel: 'kvm' | 'tcg'
  /** namespace: taps made by the lab; host: taps made by qemu-bridge-helper on the host's bridge. */
  network: 'namespace' | 'host'
  kernel: string
  initrd?: string
  rootfs?: { path: string; format: 'raw' | 'qcow2' }
  serialSocket: string
  qmpSocket: string
  /** The agent's virtio-serial ports (default images): commands, and the port that interrupts them. */
  agent?: { commandSocket: string; controlSocket: string }
  /** A saved state to restore instead of booting (see snapshot-store.ts), passed as INCOMING_FD. */
  incoming?: string
  /** The guest's state will be saved (snapshots, resets). */
  saved?: boolean
  /** A qcow2 file that holds the guest's reset point as an internal snapshot (savevm, loadvm). */
  vmstate?: string
  /**
   * The guest's memory as a file (a snapshot's memory is saved as one, see snapshot-store.ts).
   * `shared`: the guest writes to the file (a guest whose state will be saved); else the file
   * is a saved snapshot's memory, mapped copy-on-write: the file never changes, the guest reads
   * only the pages it touches, and its incoming state holds no memory (RAM_BACKEND). Without a
   * path, QEMU's usual memory under the same name (a full state saved from such a guest).
   */
  ram?: { path: string; shared: boolean } | { path?: undefined; shared: false }
}

/**
 * The memory backend's id, the name of the guest's memory in a saved state: the same for a
 * guest that saves and one that restores. A state saved with QEMU's `x-ignore-shared`
 * capability leaves out memory in shared files, and is restored with `-incoming defer`, so
 * that the capability is set (through QMP) before the state is read.
 */
export const RAM_BACKEND = 'vq-ram'

/** Whether a restore's state leaves the guest's memory to its RAM file (`launch.ram`, not shared). */
export function incomingWithoutRam(launch: QemuLaunch): boolean {
  return launch.incoming !== undefined && launch.ram?.path !== undefined && !launch.ram.shared
}

function memoryBackend(size: number, ram: NonNullable<QemuLaunch['ram']>): string {
  if (ram.path === undefined) return `memory-backend-ram,id=${RAM_BACKEND},size=${size}M`
  return `memory-backend-file,id=${RAM_BACKEND},size=${size}M,mem-path=${ram.path.replace(/,/g, ',,')},share=${ram.shared ? 'on' : 'off'}`
}

/** The kernel's `ip=` argument: ip::gateway:netmask:hostname:device:autoconf. */
export function kernelIpArgument(guest: GuestPlan): string {
  const nic = guest.nics[0]!
  // A DHCP NIC: the image's own client (or the kernel's) asks the lab's server, which has the address reserved for its MAC.
  if (nic.dhcp) return `ip=::${guest.gateway ?? ''}::${guest.name}:eth0:dhcp`
  return `ip=${nic.ip}::${guest.gateway ?? ''}:${nic.netmask}:${guest.name}:eth0:off`
}

export function kernelCommandLine(guest: GuestPlan, launch: QemuLaunch): string {
  const parts = [`console=${guest.console}`]
  // cryptomgr.notests: the kernel's self-tests of its crypto algorithms take about a tenth
  // of a default guest's cold boot under TCG (0.25 s of 2.4 s, measured), and test nothing a lab uses.
  if (guest.defaultImage) parts.push('quiet', 'cryptomgr.notests', ...archProfiles[guest.arch].defaultImageArgs)
  // Freed memory zeroed: a saved state then holds what the guest uses, not the leftovers
  // of boot (unpacked kernel, initramfs), and is about half the size.
  if (guest.defaultImage && launch.saved) parts.push('init_on_free=1')
  if (launch.rootfs) parts.push('root=/dev/vda', 'rw')
  parts.push(kernelIpArgument(guest))
  if (guest.append) parts.push(guest.append)
  return parts.join(' ')
}

// TCG's translation cache: QEMU 7.2 reserves up to 1 GiB and fills ~55 MiB during a default
// guest's boot, since it reuses space only once the cache is full. With 32 MiB boots and
// commands take as long as before; with 16 or 24 MiB the cache is flushed often enough to make
// commands slower.
const TCG_TB_SIZE_MIB = 32

/** The `-accel` value: KVM as is, TCG with a bounded translation cache. */
function accelArgument(accel: QemuLaunch['accel']): string {
  return accel === 'tcg' ? `tcg,tb-size=${TCG_TB_SIZE_MIB}` : accel
}

export function qemuCommand(guest: GuestPlan, launch: QemuLaunch): { binary: string; args: string[] } {
  const args = [
    '-name', `guest=${guest.name}`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', launch.ram ? `${guest.machine},memory-backend=${RAM_BACKEND}` : guest.machine,
    '-accel', accelArgument(launch.accel),
    '-m', String(guest.memory),
    '-smp', String(guest.cpus),
  ]
  if (launch.ram) args.push('-object', memoryBackend(guest.memory, launch.ram))
  if (guest.cpu) args.push('-cpu', guest.cpu)
  args.push('-kernel', launch.kernel)
  if (launch.initrd) args.push('-initrd', launch.initrd)
  if (guest.dtb) args.push('-dtb', guest.dtb)
  args.push('-append', kernelCommandLine(guest, launch))
  // snapshot=on: the guest writes to a temporary overlay, never to the image itself.
  if (launch.rootfs) args.push('-drive', `file=${launch.rootfs.path},if=virtio,format=${launch.rootfs.format},snapshot=on`)
  args.push('-chardev', `socket,id=serial0,path=${launch.serialSocket},server=on,wait=off`, '-serial', 'chardev:serial0')
  args.push('-qmp', `unix:${launch.qmpSocket},server=on,wait=off`)
  guest.nics.forEach((nic, index) => {
    args.push(
      '-netdev',
      launch.network === 'host' ? `bridge,id=net${index},br=${nic.bridge},helper=${BRIDGE_HELPER}` : `tap,id=net${index},ifname=${nic.tap},script=no,downscript=no`,
    )
    args.push('-device', `virtio-net-pci,netdev=net${index},mac=${nic.mac},romfile=`)
  })
  // The host's entropy for the guest's kernel: without it (TCG has no RDRAND) the kernel's
  // random generator is not ready until something waits for it, and the first SSH
  // connection then waited, seconds or, on a busy host, a minute.
  if (guest.defaultImage) args.push('-device', 'virtio-rng-pci')
  if (launch.agent) {
    // The agent's private channel: two virtio-serial ports the guest finds by name (see guest-init.ts).
    args.push('-device', 'virtio-serial-pci,id=vqserial')
    for (const [id, path, name] of [['vqagent', launch.agent.commandSocket, AGENT_PORT], ['vqagentctl', launch.agent.controlSocket, AGENT_CONTROL_PORT]] as const) {
      args.push('-chardev', `socket,id=${id},path=${path},server=on,wait=off`, '-device', `virtserialport,bus=vqserial.0,chardev=${id},name=${name}`)
    }
  }
  args.push(...guest.qemuArgs)
  // Attached to no device, so a saved state is the same with it or without it.
  if (launch.vmstate) args.push('-drive', `if=none,id=vq-vmstate,format=qcow2,file=${launch.vmstate.replace(/,/g, ',,')}`)
  if (launch.incoming) args.push('-incoming', incomingWithoutRam(launch) ? 'defer' : `fd:${INCOMING_FD}`)
  return { binary: archProfiles[guest.arch].qemuBinary, args }
}
