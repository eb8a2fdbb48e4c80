import { readFileSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// The ledger of a run, in its runtime folder: the process that owns it, and the host
// changes it made with the commands that undo them. Written by the test process and the
// supervisor, read by the sweep (lab/sweep.ts) when the owner is gone.

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

export function readUndo(runDir: string): string[][] {
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

