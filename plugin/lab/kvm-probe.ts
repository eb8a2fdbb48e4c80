import { constants } from 'node:fs'
import { access, readFile } from 'node:fs/promises'
import { arch as hostArch } from 'node:os'
import type { Arch } from '../config/config.js'
import { writeFileAtomically } from '../common/write-atomically.js'

// KVM is used only when it demonstrably works: /dev/kvm can exist and answer while a
// guest under it hangs (nested virtualisation). A short boot of the kernel decides.

export interface AccelChoice {
  accel: 'kvm' | 'tcg'
  reason: string
}

/** KVM runs guests of the host's own architecture only (and i386 on x86-64). */
export function kvmCanRun(arch: Arch, host: string = hostArch()): boolean {
  return (host === 'x64' && (arch === 'x86_64' || arch === 'i386')) || (host === 'arm64' && arch === 'aarch64')
}

/**
 * @param memo a file where the probe's verdict is kept until the host reboots: the probe
 *   costs up to 4 s where KVM hangs, and a suite starts many labs.
 */
export async function chooseAccel(qemuBinary: string, kernel: string, hostArchMatches: boolean, memo?: string): Promise<AccelChoice> {
  const forced = process.env.VITEST_QEMU_ACCEL
  if (forced === 'tcg' || forced === 'kvm') return { accel: forced, reason: `VITEST_QEMU_ACCEL=${forced}` }
  if (!hostArchMatches) return { accel: 'tcg', reason: 'the guest architecture differs from the host' }
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK)
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is missing or not accessible' }
  }
  if (!memo) return probeKvm(qemuBinary, kernel)
  const bootId = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((text) => text.trim(), () => 'unknown')
  const key = `${bootId} ${qemuBinary}`
  const known = await readFile(memo, 'utf8').then((text) => JSON.parse(text) as Record<string, AccelChoice>, () => ({}) as Record<string, AccelChoice>)
  const remembered = known[key]
  if (remembered) return { ...remembered, reason: `${remembered.reason}; probed earlier since this boot` }
  const choice = await probeKvm(qemuBinary, kernel)
  await writeFileAtomically(memo, JSON.stringify({ [key]: choice }))
  return choice
}

/** Boots `kernel` under KVM for up to 4 s: KVM works when the kernel's banner appears. */
export async function probeKvm(qemuBinary: string, kernel: string): Promise<AccelChoice> {
  // Loaded here: most runs never probe, and execa takes a while to load.
  const { execa } = await import('execa')
  const probe = await execa(
    qemuBinary,
    ['-accel', 'kvm', '-nodefaults', '-display', 'none', '-no-reboot', '-m', '64', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'],
    { timeout: 4000, reject: false, stdin: 'ignore' },
  )
  if (/Linux version/.test(probe.stdout)) return { accel: 'kvm', reason: 'a probe boot under KVM printed the kernel banner' }
  const detail = probe.timedOut ? 'the probe guest printed nothing within 4 s' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.exitCode}`)
  return { accel: 'tcg', reason: `/dev/kvm is present but KVM does not work here (${detail})` }
}
