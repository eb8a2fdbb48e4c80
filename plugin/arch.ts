import type { Arch } from './config.js'

// What each guest architecture needs from QEMU, and which Debian package provides it.

export interface ArchProfile {
  qemuBinary: string
  debianPackage: string
  machine: string
  cpu?: string
  console: string
  debianArch: string
}

export const archProfiles: Record<Arch, ArchProfile> = {
  x86_64: { qemuBinary: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', machine: 'pc', console: 'ttyS0', debianArch: 'amd64' },
  i386: { qemuBinary: 'qemu-system-i386', debianPackage: 'qemu-system-x86', machine: 'pc', console: 'ttyS0', debianArch: 'i386' },
  aarch64: { qemuBinary: 'qemu-system-aarch64', debianPackage: 'qemu-system-arm', machine: 'virt', cpu: 'cortex-a57', console: 'ttyAMA0', debianArch: 'arm64' },
  // 32-bit ARM kernels cannot reach the virt machine's PCIe window above 4 GiB: highmem=off keeps it low.
  arm: { qemuBinary: 'qemu-system-arm', debianPackage: 'qemu-system-arm', machine: 'virt,highmem=off', cpu: 'cortex-a15', console: 'ttyAMA0', debianArch: 'armhf' },
  riscv64: { qemuBinary: 'qemu-system-riscv64', debianPackage: 'qemu-system-misc', machine: 'virt', console: 'ttyS0', debianArch: 'riscv64' },
}

export function isArch(value: unknown): value is Arch {
  return typeof value === 'string' && Object.hasOwn(archProfiles, value)
}
