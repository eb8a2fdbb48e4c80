import { join } from 'node:path'
import { readPrivateFile } from './private-path.js'
import { writeFileAtomicallySync } from '../common/write-atomically.js'

// The undo journal of a run (host mode): a record of each change made outside the
// lab's own namespace, written before the change is made and cleared once it is undone.
// A record says what was made, never how to undo it: each kind has its one fixed undo
// (common/undo-actions.ts), and a record read back from disk is used only when every
// field matches its strict pattern and names this very run.

export type UndoRecord =
  /** A bridge in the host's namespace, marked with the run's alias (`vitest-qemu:RUNID`). */
  | { kind: 'bridge'; name: string; runId: string }
  /** The FORWARD rule that opens one bridge despite Docker's DROP policy (common/forward-trap.ts). */
  | { kind: 'iptables-rule'; bridge: string; runId: string }
  /** A partition's nftables table (bridge family), named `vitest_qemu_RUNID_NAME`. */
  | { kind: 'nft-table'; family: 'bridge'; name: string; runId: string }

export const JOURNAL_FILE = 'undo-journal.json'

/** Interface names the kernel accepts and the lab's config allows (lab-plan.ts); never one that reads as an option. */
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/
const RUN_ID = /^[0-9a-f]{8}$/

export function bridgeAlias(runId: string): string {
  return `vitest-qemu:${runId}`
}

export function partitionTableName(runId: string, name: string): string {
  return `vitest_qemu_${runId}_${name}`
}

const PARTITION_TABLE = /^vitest_qemu_([0-9a-f]{8})_[a-z0-9_]{1,24}$/

/** The record, rebuilt from its checked fields alone; throws naming what is wrong. A record of another run is wrong. */
export function validRecord(value: unknown, runId: string): UndoRecord {
  const record = value as Record<string, unknown>
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error(`not a record: ${JSON.stringify(value)}`)
  if (!RUN_ID.test(runId) || record.runId !== runId) throw new Error(`a record of run ${JSON.stringify(record.runId)} in the journal of run ${runId}`)
  const keys = Object.keys(record).sort().join(',')
  const text = (field: string) => (typeof record[field] === 'string' ? (record[field] as string) : '')
  switch (record.kind) {
    case 'bridge':
      if (keys !== 'kind,name,runId' || !IFNAME.test(text('name'))) throw new Error(`an invalid bridge record: ${JSON.stringify(value)}`)
      return { kind: 'bridge', name: text('name'), runId }
    case 'iptables-rule':
      if (keys !== 'bridge,kind,runId' || !IFNAME.test(text('bridge'))) throw new Error(`an invalid iptables-rule record: ${JSON.stringify(value)}`)
      return { kind: 'iptables-rule', bridge: text('bridge'), runId }
    case 'nft-table':
      if (keys !== 'family,kind,name,runId' || record.family !== 'bridge' || PARTITION_TABLE.exec(text('name'))?.[1] !== runId) {
        throw new Error(`an invalid nft-table record: ${JSON.stringify(value)}`)
      }
      return { kind: 'nft-table', family: 'bridge', name: text('name'), runId }
    default:
      throw new Error(`a record of unknown kind: ${JSON.stringify(value)}`)
  }
}

export function sameRecord(a: UndoRecord, b: UndoRecord): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
}

/**
 * The records of a run's journal, each validated; an invalid record is reported in
 * `rejected` and never used. No journal: no records. Throws when the file is there but
 * not a private file of this user, or not a JSON list.
 */
export function readJournal(runDir: string, runId: string): { records: UndoRecord[]; rejected: { entry: unknown; problem: string }[] } {
  let text: string
  try {
    text = readPrivateFile(join(runDir, JOURNAL_FILE))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], rejected: [] }
    throw error
  }
  const list = JSON.parse(text) as unknown
  if (!Array.isArray(list)) throw new Error(`${join(runDir, JOURNAL_FILE)} is not a list`)
  const records: UndoRecord[] = []
  const rejected: { entry: unknown; problem: string }[] = []
  for (const entry of list) {
    try {
      records.push(validRecord(entry, runId))
    } catch (error) {
      rejected.push({ entry, problem: (error as Error).message })
    }
  }
  return { records, rejected }
}

/** The journal as its writer keeps it: each change is recorded (on disk, 0600) before it is made. */
export class UndoJournal {
  private readonly list: UndoRecord[]

  /**
   * @param records what an earlier writer recorded (read back with readJournal)
   * @param rejected entries that failed validation: never used, but kept in the file, so a
   *   folder whose journal holds them is not removed as if all were undone
   */
  constructor(
    private readonly runDir: string,
    readonly runId: string,
    records: UndoRecord[] = [],
    readonly rejected: unknown[] = [],
  ) {
    this.list = [...records]
  }

  /** True when nothing is left to undo and nothing unreadable was found. */
  get empty(): boolean {
    return this.list.length === 0 && this.rejected.length === 0
  }

  get records(): readonly UndoRecord[] {
    return this.list
  }

  /** Records the intent; call it before making the change. */
  add(record: UndoRecord): void {
    this.list.push(validRecord(record, this.runId))
    this.save(true)
  }

  /** Clears a record once its change is undone (or was never made). */
  remove(record: UndoRecord): void {
    const index = this.list.findIndex((entry) => sameRecord(entry, record))
    if (index < 0) return
    this.list.splice(index, 1)
    this.save(false)
  }

  /** @param intent an intent must be on disk before its change; a clearing may find the run's folder gone. */
  private save(intent: boolean): void {
    try {
      writeFileAtomicallySync(join(this.runDir, JOURNAL_FILE), `${JSON.stringify([...this.rejected, ...this.list])}\n`, 0o600)
    } catch (error) {
      if (intent || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}
