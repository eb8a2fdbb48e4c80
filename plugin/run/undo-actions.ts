import { spawnSync } from 'node:child_process'
import { acceptRuleArgs } from '../common/forward-trap.js'
import { bridgeAlias, readJournal, type UndoRecord, UndoJournal } from './undo-journal.js'

// The one fixed undo of each kind of journal record (common/undo-journal.ts). Each makes
// sure the change is gone, and touches only what is provably the run's own: a bridge
// only while it carries the run's alias, the FORWARD rule with the run's comment, the
// table with the run's id in its name. An argv is never read from anywhere. Synchronous,
// so that the supervisor can undo even in its 'exit' handler.

export interface Ran {
  status: number | null
  stdout: string
  stderr: string
  missing: boolean
}

export type Runner = (command: string, args: string[]) => Ran

function run(command: string, args: string[]): Ran {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', missing: (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' }
}

function undoBridge(name: string, runId: string, run: Runner): boolean {
  const shown = run('ip', ['-j', 'link', 'show', 'dev', name])
  if (shown.status !== 0) return /does not exist/.test(shown.stderr)
  const [link] = JSON.parse(shown.stdout || '[]') as { ifalias?: string }[]
  // Not (or no longer) this run's bridge: nothing of the run's to undo.
  if (link?.ifalias !== bridgeAlias(runId)) return true
  return run('ip', ['link', 'del', 'dev', name]).status === 0
}

function undoIptablesRule(bridge: string, runId: string, run: Runner): boolean {
  const rule = acceptRuleArgs(bridge, runId)
  // Inserted once, but should it be there twice, every copy goes.
  for (let attempt = 0; attempt < 8; attempt++) {
    const check = run('iptables', ['-C', ...rule])
    if (check.missing || check.status === 1) return true
    if (check.status !== 0) return false
    if (run('iptables', ['-D', ...rule]).status !== 0) return false
  }
  return false
}

function undoNftTable(family: 'bridge', name: string, run: Runner): boolean {
  const listed = run('nft', ['list', 'table', family, name])
  if (listed.missing) return true
  if (listed.status !== 0) return /No such file or directory/.test(listed.stderr)
  return run('nft', ['delete', 'table', family, name]).status === 0
}

/** Undoes one record's change; true when it is gone (or was never made). `runner` runs each command (tests give their own). */
export function undoRecord(record: UndoRecord, runner: Runner = run): boolean {
  switch (record.kind) {
    case 'bridge':
      return undoBridge(record.name, record.runId, runner)
    case 'iptables-rule':
      return undoIptablesRule(record.bridge, record.runId, runner)
    case 'nft-table':
      return undoNftTable(record.family, record.name, runner)
  }
}

/** Undoes a journal's records, last first, clearing each once undone; returns the records left. */
export function undoAll(journal: UndoJournal, runner: Runner = run): UndoRecord[] {
  for (const record of [...journal.records].reverse()) {
    if (undoRecord(record, runner)) journal.remove(record)
  }
  return [...journal.records]
}

/**
 * Undoes what the journal in a run folder still records (the supervisor died before
 * undoing it). Returns what could not be undone, as text; empty when the folder may go.
 */
export function undoJournalOf(runDir: string, runId: string, runner: Runner = run): string[] {
  const { records, rejected } = readJournal(runDir, runId)
  if (records.length === 0 && rejected.length === 0) return []
  const journal = new UndoJournal(runDir, runId, records, rejected.map((entry) => entry.entry))
  const left = undoAll(journal, runner)
  return [...rejected.map((entry) => `not used: ${entry.problem}`), ...left.map((record) => `not undone: ${JSON.stringify(record)}`)]
}
