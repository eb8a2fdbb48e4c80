import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import type { CommandResult } from '../common/run-command.js'
import { readJournal, UndoJournal } from '../run/undo-journal.js'
import { openBridgeForwarding } from './docker-trap.js'

const runId = '0a1b2c3d'
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('each rule is journaled before it is inserted: when a later insert fails, the earlier rules stay recorded', async () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-docker-trap-'))
  const journal = new UndoJournal(dir, runId)
  const ran: string[] = []
  const host = {
    bridgeNetfilterOn: () => true,
    runCommand: async (file: string, args: string[]): Promise<CommandResult> => {
      ran.push(`${file} ${args.slice(0, 4).join(' ')}`)
      if (args[0] === '-S') return { stdout: '-P FORWARD DROP', stderr: '', exitCode: 0 }
      // At the moment of each insert, its record is already on disk.
      expect(readJournal(dir!, runId).records.at(-1)).toEqual({ kind: 'iptables-rule', bridge: args[3], runId })
      if (args[3] === 'lan2') throw new Error('iptables: Resource temporarily unavailable')
      return { stdout: '', stderr: '', exitCode: 0 }
    },
  }
  await expect(openBridgeForwarding(['lan1', 'lan2', 'lan3'], runId, journal, host)).rejects.toThrow('Resource temporarily unavailable')
  expect(ran).toEqual(['iptables -S FORWARD', 'iptables -I FORWARD -i lan1', 'iptables -I FORWARD -i lan2'])
  expect(readJournal(dir, runId).records).toEqual([
    { kind: 'iptables-rule', bridge: 'lan1', runId },
    { kind: 'iptables-rule', bridge: 'lan2', runId },
  ])
})

test('without the trap (no br_netfilter, or FORWARD accepts) nothing is inserted or journaled', async () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-docker-trap-'))
  const journal = new UndoJournal(dir, runId)
  const accepting = { bridgeNetfilterOn: () => true, runCommand: async () => ({ stdout: '-P FORWARD ACCEPT', stderr: '', exitCode: 0 }) }
  await openBridgeForwarding(['lan1'], runId, journal, accepting)
  const off = { bridgeNetfilterOn: () => false, runCommand: async (): Promise<CommandResult> => expect.fail('nothing to run') }
  await openBridgeForwarding(['lan1'], runId, journal, off)
  expect(journal.records).toEqual([])
})
