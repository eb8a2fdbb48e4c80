import type { TestProject } from 'vitest/node'
import { publishAndDescribe, untilStopRequested } from '../lab/hold-lab.js'
import type { StartedLab } from '../lab/lab.js'
import { info } from '../common/log.js'

// VITEST_QEMU_KEEP=on-failure (or 1): a run whose tests failed keeps its lab up at the
// end, for `vitest-qemu console` and `ssh`, until Ctrl-C or SIGTERM. Only when asked for:
// without the variable a run never waits, so CI never hangs on it.

export type KeepMode = 'never' | 'on-failure'

export function keepMode(value: string | undefined): KeepMode {
  const normalized = (value ?? '').trim().toLowerCase()
  if (['', '0', 'false', 'no', 'never'].includes(normalized)) return 'never'
  if (['1', 'true', 'yes', 'on-failure'].includes(normalized)) return 'on-failure'
  throw new Error(`vitest-qemu: VITEST_QEMU_KEEP=${value} is not understood; use VITEST_QEMU_KEEP=on-failure (or 1) to keep a failed run's lab up, or leave it unset`)
}

/** Whether this project's tests failed (or the run had errors outside tests). */
export function projectFailed(project: TestProject): boolean {
  const state = project.vitest.state
  return state.getUnhandledErrors().length > 0 || state.getTestModules().some((module) => module.project === project && !module.ok())
}

/** At teardown: holds the lab until Ctrl-C or SIGTERM when asked to and the tests failed. */
export async function keepLabIfFailed(lab: StartedLab, project: TestProject): Promise<void> {
  if (keepMode(process.env.VITEST_QEMU_KEEP) === 'never' || project.vitest.config.watch || !projectFailed(project)) return
  const { descriptor } = lab
  await publishAndDescribe(
    descriptor,
    (text) => process.stderr.write(text),
    `\n[vitest-qemu] tests failed and VITEST_QEMU_KEEP is set: the lab ${descriptor.runId} stays up (logs in ${descriptor.logDir})`,
    'press Ctrl-C to tear down',
  )
  const end = await untilStopRequested(descriptor)
  info(end === 'supervisor gone' ? 'the lab is gone' : `${end}: tearing the lab down`)
}
