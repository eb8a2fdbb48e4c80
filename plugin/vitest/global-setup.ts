import type { TestProject } from 'vitest/node'
import { keepLabIfFailed, keepMode } from './keep-on-failure.js'
import { startLab } from '../lab/lab.js'
import { info, seconds } from '../common/log.js'
import { CONFIG_KEY, LAB_KEY } from '../protocol/provided-context.js'

// Vitest's global setup (main process): boots the lab once for the run and tells
// the workers where it is. The teardown it returns stops it; if Vitest dies without
// teardown, the supervisor cleans up on its own when its pipe closes. Node loads this
// module once for every project that has a lab, so each setup keeps its lab in its own
// closure, never in this module.

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  keepMode(process.env.VITEST_QEMU_KEEP) // a misspelt value fails before anything boots
  const { config, root } = project.getProvidedContext()[CONFIG_KEY]
  // In watch mode the lab stays up between reruns; each rerun of this project's files
  // first brings every guest back to its state right after boot.
  const watching = project.vitest.config.watch
  const lab = await startLab(config, { root, resettable: watching || config.isolation === 'per-file' || config.isolation === 'per-test' })
  project.provide(LAB_KEY, lab.descriptor)
  if (watching) {
    // A lab gone for good leaves nothing for later reruns to test: the watch session ends, saying why.
    lab.onUnexpectedExit((reason) => {
      info(`the lab of project ${project.name || '(root)'} is gone (${reason}); ending the watch session`)
      process.exitCode = 1
      void project.vitest.close().finally(() => process.exit(1))
    })
    project.onTestsRerun(async (specifications) => {
      if (!specifications.some((specification) => specification.project.name === project.name)) return
      // The workers start meanwhile; their first request to the lab waits for the reset.
      const { done } = await lab.beginReset()
      done.then(
        (ms) => info(`guests reset for the rerun in ${seconds(ms)}`),
        (error: Error) => info(error.message),
      )
    })
  }
  return async () => {
    try {
      await keepLabIfFailed(lab, project)
    } finally {
      await lab.stop()
    }
  }
}
