import { join } from 'node:path'
import { isProcessIdentity, isRunning, type ProcessIdentity } from './process-identity.js'
import { readPrivateFile } from './private-path.js'
import { writeFileAtomically } from '../common/write-atomically.js'

// The ledger of a run, the first file in its runtime folder: the processes that own
// the run, each by its identity (common/process-identity.ts). The run is live while
// either runs: the test process (preparing the run, or undoing it after its supervisor
// died) or the supervisor. The sweep (lab/sweep.ts) touches a run only once both are
// proven gone, and only a folder whose ledger is a private file of this user.

export interface Ledger {
  runId: string
  /** The user who owns the run. */
  uid: number
  testProcess: ProcessIdentity
  supervisor?: ProcessIdentity
  startedAt: string
  /** Plain pids, kept for the sweeps of earlier versions that may share the runtime root. */
  testProcessPid: number
  supervisorPid?: number
}

export const RUN_ID = /^[0-9a-f]{8}$/
export const LEDGER_FILE = 'ledger.json'

export async function writeLedger(runDir: string, ledger: Ledger): Promise<void> {
  await writeFileAtomically(join(runDir, LEDGER_FILE), `${JSON.stringify(ledger)}\n`, 0o600)
}

/** The ledger of the run folder `runDir`, named `runId`; throws when it is missing, not private, or not a ledger of that run. */
export function readLedger(runDir: string, runId: string): Ledger {
  const ledger = JSON.parse(readPrivateFile(join(runDir, LEDGER_FILE))) as Ledger
  if (typeof ledger !== 'object' || ledger === null) throw new Error('the ledger is not an object')
  if (ledger.runId !== runId || !RUN_ID.test(ledger.runId)) throw new Error(`the ledger names run ${JSON.stringify(ledger.runId)}, not ${runId}`)
  if (ledger.uid !== process.getuid?.()) throw new Error(`the ledger names uid ${ledger.uid}`)
  if (!isProcessIdentity(ledger.testProcess)) throw new Error('the ledger names no test process')
  if (ledger.supervisor !== undefined && !isProcessIdentity(ledger.supervisor)) throw new Error('the ledger names an invalid supervisor')
  return ledger
}

/** Whether a process of the run still runs: while one does, nothing of the run may be touched. */
export function runIsLive(ledger: Ledger): boolean {
  return isRunning(ledger.testProcess) || (ledger.supervisor !== undefined && isRunning(ledger.supervisor))
}
