import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { type Ran, type Runner, undoJournalOf, undoRecord } from './undo-actions.js'
import { JOURNAL_FILE } from './undo-journal.js'

// Each record maps to its one fixed undo: the commands below are the whole of what a
// record can make happen. The host's tools are replaced by a script of answers.

const runId = '0a1b2c3d'
const ok = (stdout = ''): Ran => ({ status: 0, stdout, stderr: '', missing: false })
const fail = (status: number, stderr: string): Ran => ({ status, stdout: '', stderr, missing: false })

function scripted(answers: ((command: string, args: string[]) => Ran | undefined)[]): { runner: Runner; ran: string[] } {
  const ran: string[] = []
  const runner: Runner = (command, args) => {
    ran.push([command, ...args].join(' '))
    for (const answer of answers) {
      const result = answer(command, args)
      if (result) return result
    }
    return ok()
  }
  return { runner, ran }
}

test("a bridge is deleted only while it carries the run's alias", () => {
  const ours = scripted([(command, args) => (args[0] === '-j' ? ok(JSON.stringify([{ ifname: 'vqhost0', ifalias: `vitest-qemu:${runId}` }])) : undefined)])
  expect(undoRecord({ kind: 'bridge', name: 'vqhost0', runId }, ours.runner)).toBe(true)
  expect(ours.ran).toEqual(['ip -j link show dev vqhost0', 'ip link del dev vqhost0'])

  const someoneElses = scripted([(command, args) => (args[0] === '-j' ? ok(JSON.stringify([{ ifname: 'vqhost0', ifalias: 'vitest-qemu:ffffffff' }])) : undefined)])
  expect(undoRecord({ kind: 'bridge', name: 'vqhost0', runId }, someoneElses.runner)).toBe(true)
  expect(someoneElses.ran).toEqual(['ip -j link show dev vqhost0'])

  const gone = scripted([() => fail(1, 'Device "vqhost0" does not exist.')])
  expect(undoRecord({ kind: 'bridge', name: 'vqhost0', runId }, gone.runner)).toBe(true)
  expect(gone.ran).toEqual(['ip -j link show dev vqhost0'])

  const refused = scripted([(command, args) => (args[0] === '-j' ? ok(JSON.stringify([{ ifalias: `vitest-qemu:${runId}` }])) : fail(2, 'RTNETLINK answers: Operation not permitted'))])
  expect(undoRecord({ kind: 'bridge', name: 'vqhost0', runId }, refused.runner)).toBe(false)
})

test("the FORWARD rule with the run's comment is deleted until none is left", () => {
  const rule = `FORWARD -i vqhost0 -o vqhost0 -m comment --comment vitest-qemu run ${runId} -j ACCEPT`
  let copies = 2
  const twice = scripted([(command, args) => (args[0] === '-C' ? (copies > 0 ? ok() : fail(1, 'Bad rule')) : (copies--, ok()))])
  expect(undoRecord({ kind: 'iptables-rule', bridge: 'vqhost0', runId }, twice.runner)).toBe(true)
  expect(twice.ran).toEqual([`iptables -C ${rule}`, `iptables -D ${rule}`, `iptables -C ${rule}`, `iptables -D ${rule}`, `iptables -C ${rule}`])
  const noIptables = scripted([() => ({ status: null, stdout: '', stderr: '', missing: true })])
  expect(undoRecord({ kind: 'iptables-rule', bridge: 'vqhost0', runId }, noIptables.runner)).toBe(true)
  const denied = scripted([() => fail(4, 'Permission denied (you must be root)')])
  expect(undoRecord({ kind: 'iptables-rule', bridge: 'vqhost0', runId }, denied.runner)).toBe(false)
})

test("a partition's table is deleted by its family and name", () => {
  const name = `vitest_qemu_${runId}_p12ab`
  const there = scripted([])
  expect(undoRecord({ kind: 'nft-table', family: 'bridge', name, runId }, there.runner)).toBe(true)
  expect(there.ran).toEqual([`nft list table bridge ${name}`, `nft delete table bridge ${name}`])
  const gone = scripted([() => fail(1, 'Error: No such file or directory')])
  expect(undoRecord({ kind: 'nft-table', family: 'bridge', name, runId }, gone.runner)).toBe(true)
  expect(gone.ran).toHaveLength(1)
})

let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test("a run folder's journal: valid records undone last first and cleared, planted entries never run and reported", () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-undo-'))
  const planted = ['touch', join(dir, 'marker')]
  writeFileSync(
    join(dir, JOURNAL_FILE),
    JSON.stringify([{ kind: 'bridge', name: 'vqhost0', runId }, planted, { kind: 'iptables-rule', bridge: 'vqhost0', runId }]),
    { mode: 0o600 },
  )
  const host = scripted([(command, args) => (command === 'iptables' && args[0] === '-C' ? fail(1, 'Bad rule') : undefined), () => fail(1, 'Device "vqhost0" does not exist.')])
  const left = undoJournalOf(dir, runId, host.runner)
  expect(host.ran.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['iptables -C', 'ip -j'])
  expect(host.ran.some((line) => line.startsWith('touch'))).toBe(false)
  expect(left).toEqual([expect.stringMatching(/^not used: /)])
  expect(JSON.parse(readFileSync(join(dir, JOURNAL_FILE), 'utf8'))).toEqual([planted])
})
