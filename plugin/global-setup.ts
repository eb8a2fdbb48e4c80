import type { TestProject } from 'vitest/node'
import { keepLabIfFailed, keepMode } from './keep-on-failure.js'
import { type StartedLab, startLab } from './lab.js'
import { CONFIG_KEY, LAB_KEY } from './vitest-keys.js'

// Vitest's global setup (main process): boots the lab once for the run and tells
// the workers where it is. Teardown stops it; if Vitest dies without teardown, the
// supervisor cleans up on its own when its pipe closes.

let lab: StartedLab | undefined
let testProject: TestProject | undefined

export async function setup(project: TestProject): Promise<void> {
  keepMode(process.env.VITEST_QEMU_KEEP) // a misspelt value fails before anything boots
  testProject = project
  const { config, root } = project.getProvidedContext()[CONFIG_KEY]
  lab = await startLab(config, { root })
  project.provide(LAB_KEY, lab.descriptor)
}

export async function teardown(): Promise<void> {
  try {
    if (lab && testProject) await keepLabIfFailed(lab, testProject)
  } finally {
    await lab?.stop()
    lab = undefined
  }
}
