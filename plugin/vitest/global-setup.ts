import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { keepLabIfFailed, keepMode } from './keep-on-failure.js'
import { whenProjectFilesEnd } from './project-end.js'
import { resetForReruns } from './watch-reset.js'
import { launchLab, type StartedLab } from '../lab/lab.js'
import { admitBoot } from '../lab/boot-gate.js'
import { info } from '../common/log.js'
import { writeLabOutcome } from '../protocol/lab-readiness.js'
import { CONFIG_KEY, LAB_KEY, LAB_READY_KEY } from '../protocol/provided-context.js'

// Vitest's global setup (main process): starts the lab for the run and tells the workers
// where it is. It returns once the guests are booting: Vitest starts its workers meanwhile
// (their first test file waits for the lab: protocol/lab-readiness.ts), and the next
// project's lab starts booting too. The teardown it returns stops it; if Vitest dies
// without teardown, the supervisor cleans up on its own when its pipe closes. Node loads
// this module once for every project that has a lab, so each setup keeps its lab in its
// own closure, never in this module.

/** How long a worker waits for the outcome at most: the boot's own timeouts end it long before. */
const READY_WAIT_MS = 30 * 60_000

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  keepMode(process.env.VITEST_QEMU_KEEP) // a misspelt value fails before anything boots
  const { config, root } = project.getProvidedContext()[CONFIG_KEY]
  // In watch mode the lab stays up between reruns; each rerun of this project's files
  // first brings every guest back to its state right after boot.
  const watching = project.vitest.config.watch
  // Several labs boot at once only while the machine has the memory for them.
  const admitted = await admitBoot(config)
  let launched
  try {
    launched = await launchLab(config, { root, resettable: watching || config.isolation === 'per-file' || config.isolation === 'per-test', supervisorKey: project })
  } catch (error) {
    admitted.release()
    throw error
  }
  const readiness = { file: join(launched.descriptor.logDir, 'lab-outcome.json'), by: Date.now() + READY_WAIT_MS * (config.timeoutMultiplier ?? 1) }
  project.provide(LAB_KEY, launched.descriptor)
  project.provide(LAB_READY_KEY, readiness)
  const ready: Promise<StartedLab | undefined> = launched.ready.then(
    async (lab) => {
      await writeLabOutcome(readiness.file, { ready: lab.descriptor })
      return lab
    },
    async (error: Error) => {
      await writeLabOutcome(readiness.file, { failed: error.message })
      process.exitCode = 1
      return undefined
    },
  )
  let settled = false
  void ready.finally(() => {
    settled = true
    admitted.release()
  })
  if (watching) {
    void ready.then((lab) => {
      if (!lab) return
      // A lab gone for good leaves nothing for later reruns to test: the watch session ends, saying why.
      lab.onUnexpectedExit((reason) => {
        info(`the lab of project ${project.name || '(root)'} is gone (${reason}); ending the watch session`)
        process.exitCode = 1
        void project.vitest.close().finally(() => process.exit(1))
      })
      resetForReruns(project, lab)
    })
  }
  // Outside watch mode the lab stops as soon as its project's last file has run (unless a
  // failed run is to keep it up), not when every project is done.
  if (!watching && keepMode(process.env.VITEST_QEMU_KEEP) === 'never') {
    void ready.then((lab) => {
      if (!lab) return
      whenProjectFilesEnd(project, () => {
        // Said only where it matters: other projects still run.
        if ((project.vitest.projects?.length ?? 1) > 1) info(`the files of project ${project.name || '(root)'} have run: stopping its lab`)
        void launched.stop().catch((error: Error) => info(`stopping the lab of project ${project.name || '(root)'}: ${error.message}`))
      })
    })
  }
  return async () => {
    // Interrupted while booting: stopped at once, without waiting for the boot.
    const lab = settled ? await ready : undefined
    try {
      if (lab) await keepLabIfFailed(lab, project)
    } finally {
      await launched.stop()
    }
  }
}
