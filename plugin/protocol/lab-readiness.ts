import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { writeFileAtomically } from '../common/write-atomically.js'
import type { LabDescriptor } from './lab-descriptor.js'

// How workers learn that the lab their global setup started is ready. Global setup returns
// while the guests boot, so that Vitest starts its workers meanwhile and the labs of
// several projects boot at once; it writes the boot's outcome to a file in the run's
// folder, which a worker waits for before its first test file runs. A boot that failed
// fails every test file with the boot's error, and runs no test.

export interface LabReadiness {
  /** Where the outcome is written. */
  file: string
  /** Epoch ms after which a worker stops waiting (the boot's own timeouts end it well before). */
  by: number
}

export type LabOutcome = { ready: LabDescriptor } | { failed: string }

export function writeLabOutcome(file: string, outcome: LabOutcome): Promise<void> {
  return writeFileAtomically(file, JSON.stringify(outcome), 0o600)
}

/** The ready lab's descriptor; rejects with the boot's error, or when nothing came by `by`. */
export async function waitForLabOutcome(readiness: LabReadiness, pollMs = 20): Promise<LabDescriptor> {
  while (!existsSync(readiness.file)) {
    if (Date.now() > readiness.by) throw new Error(`vitest-qemu: the lab was still not ready at ${new Date(readiness.by).toISOString()} (nothing in ${readiness.file})`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
  const outcome = JSON.parse(await readFile(readiness.file, 'utf8')) as LabOutcome
  if ('failed' in outcome) throw new Error(outcome.failed)
  return outcome.ready
}
