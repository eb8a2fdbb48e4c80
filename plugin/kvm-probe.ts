import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { execa } from 'execa'

// KVM is used only when it demonstrably works: /dev/kvm can exist and answer while a
// guest under it hangs (nested virtualisation). A short boot of the kernel decides.

export interface AccelChoice {
  accel: 'kvm' | 'tcg'
  reason: string
}

export async function chooseAccel(qemuBinary: string, kernel: string, hostArchMatches: boolean): Promise<AccelChoice> {
  const forced = process.env.VITEST_QEMU_ACCEL
  if (forced === 'tcg' || forced === 'kvm') return { accel: forced, reason: `VITEST_QEMU_ACCEL=${forced}` }
  if (!hostArchMatches) return { accel: 'tcg', reason: 'the guest architecture differs from the host' }
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK)
  } catch {
    return { accel: 'tcg', reason: '/dev/kvm is missing or not accessible' }
  }
  const probe = await execa(
    qemuBinary,
    ['-accel', 'kvm', '-nodefaults', '-display', 'none', '-no-reboot', '-m', '64', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'],
    { timeout: 4000, reject: false, stdin: 'ignore' },
  )
  if (/Linux version/.test(probe.stdout)) return { accel: 'kvm', reason: 'a probe boot under KVM printed the kernel banner' }
  const detail = probe.timedOut ? 'the probe guest printed nothing within 4 s' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.exitCode}`)
  return { accel: 'tcg', reason: `/dev/kvm is present but KVM does not work here (${detail})` }
}
