import { join } from 'node:path'

// Where each run keeps its console transcripts, QEMU logs and packet captures: under the
// project, so CI can upload them as artifacts and a developer finds them next to the code.

/** The project's folder of vitest-qemu files, relative to the project root. */
export const RUN_LOGS_ROOT = '.vitest-qemu'

/** The folder holding every run's logs, relative to the project root. */
export const RUN_LOGS = join(RUN_LOGS_ROOT, 'runs')

export function runLogDir(root: string, runId: string): string {
  return join(root, RUN_LOGS, runId)
}
