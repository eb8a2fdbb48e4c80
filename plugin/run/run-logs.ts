import { readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isProcessIdentity, isRunning, type ProcessIdentity } from './process-identity.js'

// Where each run keeps its console transcripts, QEMU logs and packet captures: under the
// project, so CI can upload them as artifacts and a developer finds them next to the code.

/** The project's folder of vitest-qemu files, relative to the project root. */
export const RUN_LOGS_ROOT = '.vitest-qemu'

/** The folder holding every run's logs, relative to the project root. */
export const RUN_LOGS = join(RUN_LOGS_ROOT, 'runs')

export function runLogDir(root: string, runId: string): string {
  return join(root, RUN_LOGS, runId)
}

/** The file in a run's log folder that names the processes of a lab still running. */
const OWNER_FILE = '.owner.json'

interface LogDirOwner {
  /** The process preparing the lab; it owns the folder until a supervisor is started. */
  testProcess?: ProcessIdentity
  supervisor?: ProcessIdentity
}

/** Marks a run's log folder as in use by a running lab (removed by `releaseLogDir` when it stops). */
export async function claimLogDir(logDir: string, owner: LogDirOwner): Promise<void> {
  await writeFile(join(logDir, OWNER_FILE), `${JSON.stringify(owner)}\n`)
}

export async function releaseLogDir(logDir: string): Promise<void> {
  await rm(join(logDir, OWNER_FILE), { force: true })
}

/**
 * Whether a run's log folder belongs to a lab that is still running: its supervisor is
 * alive, or, before it has one, the process preparing it. A folder without the file (an
 * older version's, or a stopped lab's) is not in use.
 */
export function logDirInUse(logDir: string): boolean {
  let owner: LogDirOwner
  try {
    owner = JSON.parse(readFileSync(join(logDir, OWNER_FILE), 'utf8')) as LogDirOwner
  } catch {
    return false
  }
  // Proven by pid and start time, so a reused pid does not pass for the owner.
  if (isProcessIdentity(owner.supervisor)) return isRunning(owner.supervisor)
  return isProcessIdentity(owner.testProcess) && isRunning(owner.testProcess)
}
