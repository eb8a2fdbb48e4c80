import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { JOURNAL_FILE, readJournal, UndoJournal, validRecord } from './undo-journal.js'

const runId = '0a1b2c3d'
let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('each kind of record is accepted with its exact fields, rebuilt from them alone', () => {
  expect(validRecord({ kind: 'bridge', name: 'br-lab.0', runId }, runId)).toEqual({ kind: 'bridge', name: 'br-lab.0', runId })
  expect(validRecord({ runId, bridge: 'vqhost0', kind: 'iptables-rule' }, runId)).toEqual({ kind: 'iptables-rule', bridge: 'vqhost0', runId })
  expect(validRecord({ kind: 'nft-table', family: 'bridge', name: `vitest_qemu_${runId}_p1234abcd`, runId }, runId)).toEqual({
    kind: 'nft-table',
    family: 'bridge',
    name: `vitest_qemu_${runId}_p1234abcd`,
    runId,
  })
})

test.each([
  ['an argv list', ['touch', '/tmp/owned']],
  ['an unknown kind', { kind: 'command', argv: ['touch', '/tmp/owned'], runId }],
  ['a record of another run', { kind: 'bridge', name: 'br0', runId: 'ffffffff' }],
  ['a bridge name with a space', { kind: 'bridge', name: 'br0 type', runId }],
  ['a bridge name with shell text', { kind: 'bridge', name: '$(reboot)', runId }],
  ['a bridge name that is an option', { kind: 'bridge', name: '--help', runId }],
  ['a bridge name longer than 15', { kind: 'bridge', name: 'abcdefghijklmnop', runId }],
  ['an extra field', { kind: 'bridge', name: 'br0', runId, command: 'rm -rf /' }],
  ['a field of the wrong type', { kind: 'iptables-rule', bridge: ['br0'], runId }],
  ['an nft table not of this run', { kind: 'nft-table', family: 'bridge', name: 'vitest_qemu_ffffffff_p1', runId }],
  ['an nft table of any name', { kind: 'nft-table', family: 'bridge', name: 'filter', runId }],
  ['an nft table of another family', { kind: 'nft-table', family: 'inet', name: `vitest_qemu_${runId}_p1`, runId }],
  ['null', null],
])('%s is rejected', (_, value) => {
  expect(() => validRecord(value, runId)).toThrow()
})

test('the writer records each intent on disk (0600) before returning, and clears it once undone', () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-journal-'))
  const journal = new UndoJournal(dir, runId)
  const bridge = { kind: 'bridge', name: 'vqhost0', runId } as const
  const rule = { kind: 'iptables-rule', bridge: 'vqhost0', runId } as const
  journal.add(bridge)
  expect(JSON.parse(readFileSync(join(dir, JOURNAL_FILE), 'utf8'))).toEqual([bridge])
  expect(statSync(join(dir, JOURNAL_FILE)).mode & 0o777).toBe(0o600)
  journal.add(rule)
  journal.remove({ ...bridge })
  expect(readJournal(dir, runId)).toEqual({ records: [rule], rejected: [] })
  expect(() => journal.add({ kind: 'bridge', name: 'a b', runId })).toThrow()
  expect(readJournal(dir, runId).records).toEqual([rule])
})

test('read back, invalid entries are reported and kept aside, never used', () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-journal-'))
  const good = { kind: 'bridge', name: 'vqhost0', runId }
  const planted = { kind: 'command', argv: ['touch', '/tmp/owned'] }
  writeFileSync(join(dir, JOURNAL_FILE), JSON.stringify([planted, good]), { mode: 0o600 })
  const read = readJournal(dir, runId)
  expect(read.records).toEqual([good])
  expect(read.rejected).toEqual([{ entry: planted, problem: expect.stringContaining('') }])
  // Written again by a writer that took it over: the rejected entry stays in the file.
  const journal = new UndoJournal(dir, runId, read.records, read.rejected.map((entry) => entry.entry))
  journal.remove(good)
  expect(JSON.parse(readFileSync(join(dir, JOURNAL_FILE), 'utf8'))).toEqual([planted])
  expect(journal.empty).toBe(false)
})

test('a journal that is not a private file of this user is refused; none at all is empty', () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-journal-'))
  expect(readJournal(dir, runId)).toEqual({ records: [], rejected: [] })
  const path = join(dir, JOURNAL_FILE)
  writeFileSync(path, '[]', { mode: 0o600 })
  chmodSync(path, 0o666)
  expect(() => readJournal(dir!, runId)).toThrow(/only its owner may have access/)
  rmSync(path)
  const elsewhere = join(dir, 'elsewhere.json')
  writeFileSync(elsewhere, '[]', { mode: 0o600 })
  symlinkSync(elsewhere, path)
  expect(() => readJournal(dir!, runId)).toThrow(expect.objectContaining({ code: 'ELOOP' }))
  rmSync(path)
  writeFileSync(path, '{"kind":"bridge"}', { mode: 0o600 })
  expect(() => readJournal(dir!, runId)).toThrow(/is not a list/)
})

test('an intent that cannot be written fails its change; a clearing whose folder is gone does not stop the undoing', () => {
  dir = mkdtempSync(join(tmpdir(), 'vq-journal-'))
  const journal = new UndoJournal(dir, runId)
  const bridge = { kind: 'bridge', name: 'vqhost0', runId } as const
  journal.add(bridge)
  rmSync(dir, { recursive: true })
  expect(() => journal.add({ kind: 'iptables-rule', bridge: 'vqhost0', runId })).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  journal.remove(bridge)
  expect(journal.records).toEqual([{ kind: 'iptables-rule', bridge: 'vqhost0', runId }])
})
