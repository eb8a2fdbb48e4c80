import type { Arch } from './config.js'

// What each guest architecture needs from QEMU, and which Debian package provides it.

export interface ArchProfile {
  qemuBinary: string
  debianPackage: string
  machine: string
  cpu?: string
  console: string
  debianArch: string
  /** Kernel arguments the default image boots with. */
  defaultImageArgs: string[]
  /** The default image's memory (MiB) where 128 is too little. */
  defaultImageMemory?: number
}

// An x86 kernel checks early that the timer interrupt arrives, within a delay loop; with many
// TCG guests on few cores the check can fail, and the kernel panics ("IO-APIC + timer doesn't
// work!"). no_timer_check skips it, a common setting for virtual machines.
const x86DefaultImageArgs = ['no_timer_check']

export const archProfiles: Record<Arch, ArchProfile> = {
  x86_64: { qemuBinary: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', machine: 'pc', console: 'ttyS0', debianArch: 'amd64', defaultImageArgs: x86DefaultImageArgs },
  i386: { qemuBinary: 'qemu-system-i386', debianPackage: 'qemu-system-x86', machine: 'pc', console: 'ttyS0', debianArch: 'i386', defaultImageArgs: x86DefaultImageArgs },
  aarch64: { qemuBinary: 'qemu-system-aarch64', debianPackage: 'qemu-system-arm', machine: 'virt', cpu: 'cortex-a57', console: 'ttyAMA0', debianArch: 'arm64', defaultImageArgs: [] },
  // 32-bit ARM kernels cannot reach the virt machine's PCIe window above 4 GiB: highmem=off keeps it low.
  arm: { qemuBinary: 'qemu-system-arm', debianPackage: 'qemu-system-arm', machine: 'virt,highmem=off', cpu: 'cortex-a15', console: 'ttyAMA0', debianArch: 'armhf', defaultImageArgs: [] },
  // Debian's riscv64 kernel is the generic one (no cloud flavour): 31 MB, with a larger initramfs
  // (~18 MiB); with 128 MiB the guest has 16 MiB available, with 192 MiB about 70.
  riscv64: { qemuBinary: 'qemu-system-riscv64', debianPackage: 'qemu-system-misc', machine: 'virt', console: 'ttyS0', debianArch: 'riscv64', defaultImageArgs: [], defaultImageMemory: 192 },
}

export function isArch(value: unknown): value is Arch {
  return typeof value === 'string' && Object.hasOwn(archProfiles, value)
}
