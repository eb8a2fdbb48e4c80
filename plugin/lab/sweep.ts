import { lstat, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isNotFound } from '../run/private-path.js'
import { readLedger, RUN_ID, runIsLive } from '../run/run-ledger.js'
import { existingRuntimeRoot } from '../run/runtime-dir.js'
import { undoJournalOf } from '../run/undo-actions.js'

// What dead runs left (a machine that crashed, a SIGKILLed test process and
// supervisor): their folders, and in host mode the host changes their journal records.
// The next run's start and `vitest-qemu cleanup` undo those and remove the folders.
//
// Only what is provably a dead run of this user is touched: a folder named like a run id,
// a real folder of this user, holding a private ledger of that run whose processes are
// all proven gone (common/process-identity.ts). Anything else, a live run, a folder it
// cannot read, one it does not recognise, is left alone. Folders may vanish while it
// looks (a live run stopping, another sweep): that is no error.

const DRAFT = /^\.([0-9a-f]{8})\.new$/

export interface SweepResult {
  /** Run ids whose folders were removed. */
  removed: string[]
  /** Dead runs kept, with why (a host change that could not be undone). */
  kept: string[]
  /** Folders named like runs but not recognised as this user's (or unreadable), with why: left alone. */
  ignored: string[]
}

export async function sweepDeadRuns(root: string | undefined = existingRuntimeRoot()): Promise<SweepResult> {
  const result: SweepResult = { removed: [], kept: [], ignored: [] }
  if (root === undefined) return result
  let entries: string[]
  try {
    entries = await readdir(root)
  } catch (error) {
    if (isNotFound(error)) return result
    throw error
  }
  const uid = process.getuid?.()
  for (const name of entries) {
    // A run folder, or one still being made (lab/run-folder.ts) by a process that died.
    const runId = RUN_ID.test(name) ? name : DRAFT.exec(name)?.[1]
    if (runId === undefined) continue
    const dir = join(root, name)
    try {
      const stat = await lstat(dir)
      if (!stat.isDirectory() || stat.uid !== uid) {
        result.ignored.push(`${dir}: not a folder of this user`)
        continue
      }
      const ledger = readLedger(dir, runId)
      if (runIsLive(ledger)) continue
      const left = undoJournalOf(dir, runId)
      if (left.length > 0) {
        result.kept.push(`${runId}: ${left.join('; ')}`)
        continue
      }
      await rm(dir, { recursive: true, force: true })
      result.removed.push(runId)
    } catch (error) {
      // Gone meanwhile, or not recognisable as a run of this user: not ours to remove.
      if (!isNotFound(error)) result.ignored.push(`${dir}: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  return result
}
