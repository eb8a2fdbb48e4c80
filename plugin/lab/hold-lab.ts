import type { LabDescriptor } from '../protocol/lab-descriptor.js'
import { attachHints, formatGuestTable } from './lab-summary.js'
import { publishLab, runningLabs } from './running-labs.js'
import { isRunning, processIdentity } from '../run/process-identity.js'

// Keeping a started lab up for people to work in (`up`, VITEST_QEMU_KEEP): it is
// published for `console` and `ssh`, described on screen, and held until Ctrl-C,
// SIGTERM or SIGHUP, or until its supervisor is gone. Stopping it is the caller's.

export type HoldEnd = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'supervisor gone'

export async function publishAndDescribe(lab: LabDescriptor, write: (text: string) => void, heading: string, stopHint: string): Promise<void> {
  await publishLab(lab)
  const env = process.env.VITEST_QEMU_RUNTIME_DIR ? `VITEST_QEMU_RUNTIME_DIR=${process.env.VITEST_QEMU_RUNTIME_DIR}` : undefined
  const withRunId = runningLabs().some((other) => other.runId !== lab.runId)
  write(`${heading}\n\n${formatGuestTable(lab)}\n\n${attachHints(lab, { env, withRunId })}\n\n${stopHint}\n`)
}

/** Resolves at the first of: SIGINT, SIGTERM, SIGHUP, or the supervisor's end (checked every second). */
export function untilStopRequested(lab: LabDescriptor): Promise<HoldEnd> {
  return new Promise((resolve) => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
    const handlers = signals.map((signal) => [signal, () => finish(signal)] as const)
    const supervisor = processIdentity(lab.supervisorPid)
    const timer = setInterval(() => {
      if (!supervisor || !isRunning(supervisor)) finish('supervisor gone')
    }, 1000)
    const finish = (end: HoldEnd) => {
      clearInterval(timer)
      for (const [signal, handler] of handlers) process.off(signal, handler)
      resolve(end)
    }
    for (const [signal, handler] of handlers) process.on(signal, handler)
  })
}
