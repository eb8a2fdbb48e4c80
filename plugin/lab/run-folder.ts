import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { currentBootId, processIdentity } from '../run/process-identity.js'
import { type Ledger, writeLedger } from '../run/run-ledger.js'
import { newRunId } from '../run/runtime-dir.js'

// A run's folder in the runtime root. It appears under its run id with its ledger
// already inside: it is made under a hidden name, the ledger written, then renamed into
// place, so a sweep never finds a run folder without its owner.

export interface RunFolder {
  runId: string
  runDir: string
  ledger: Ledger
}

export async function createRunFolder(root: string): Promise<RunFolder> {
  const runId = newRunId()
  const runDir = join(root, runId)
  const draft = join(root, `.${runId}.new`)
  const self = processIdentity(process.pid) ?? { pid: process.pid, startTime: 0, bootId: currentBootId() }
  const ledger: Ledger = { runId, uid: process.getuid?.() ?? -1, testProcess: self, testProcessPid: process.pid, startedAt: new Date().toISOString() }
  await mkdir(draft, { mode: 0o700 })
  try {
    await writeLedger(draft, ledger)
    await rename(draft, runDir)
  } catch (error) {
    await rm(draft, { recursive: true, force: true })
    throw error
  }
  return { runId, runDir, ledger }
}
