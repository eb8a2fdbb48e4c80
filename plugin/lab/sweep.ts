import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runtimeRoot } from '../common/runtime-dir.js'

// The ledger: each run writes down, in its runtime folder, the supervisor that owns
// it. A run whose supervisor is gone (a machine that crashed, a SIGKILLed supervisor)
// has left at most that folder; the next run's start and `vitest-qemu cleanup` remove
// it, and undoes the host changes a host-mode run recorded. A live run is never touched.

export interface Ledger {
  runId: string
  /** The process preparing the run; it owns the run until a supervisor is started. */
  testProcessPid: number
  supervisorPid?: number
  startedAt: string
}

/** Host changes of a run (host mode: its bridges, its iptables rules) and the commands that undo them. */
export function writeUndo(runDir: string, commands: string[][]): void {
  writeFileSync(join(runDir, 'undo.json'), `${JSON.stringify(commands)}\n`)
}

function readUndo(runDir: string): string[][] {
  try {
    return JSON.parse(readFileSync(join(runDir, 'undo.json'), 'utf8')) as string[][]
  } catch {
    return []
  }
}

export async function writeLedger(runDir: string, ledger: Ledger): Promise<void> {
  await writeFile(join(runDir, 'ledger.json'), `${JSON.stringify(ledger)}\n`)
}

/** Whether process `pid` exists and its command line includes the given text. */
export function alive(pid: number, cmdlineIncludes?: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cmdlineIncludes ?? '')
  } catch {
    return false
  }
}

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
