import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { alive, type Ledger, readUndo } from '../common/run-ledger.js'
import { runtimeRoot } from '../common/runtime-dir.js'

// The ledger: each run writes down, in its runtime folder, the supervisor that owns
// it. A run whose supervisor is gone (a machine that crashed, a SIGKILLed supervisor)
// has left at most that folder; the next run's start and `vitest-qemu cleanup` remove
// it, and undoes the host changes a host-mode run recorded. A live run is never touched.

function isLive(ledger: Ledger): boolean {
  return ledger.supervisorPid === undefined ? alive(ledger.testProcessPid) : alive(ledger.supervisorPid, 'supervisor.js')
}

/** Removes what dead runs left; returns the run ids removed. */
export async function sweepDeadRuns(root = runtimeRoot(), graceMs = 60_000): Promise<string[]> {
  if (!existsSync(root)) return []
  const removed: string[] = []
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue
    const dir = join(root, entry.name)
    let ledger: Ledger | undefined
    try {
      ledger = JSON.parse(readFileSync(join(dir, 'ledger.json'), 'utf8')) as Ledger
    } catch {
      // No ledger: a run between creating its folder and writing the ledger, or a broken folder.
      const age = Date.now() - (await stat(dir)).mtimeMs
      if (age < graceMs) continue
    }
    if (ledger && isLive(ledger)) continue
    for (const [command, ...args] of readUndo(dir)) spawnSync(command!, args, { stdio: 'ignore' })
    await rm(dir, { recursive: true, force: true })
    removed.push(entry.name)
  }
  return removed
}
