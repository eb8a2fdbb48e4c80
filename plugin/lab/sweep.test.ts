import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { processIdentity } from '../run/process-identity.js'
import { type Ledger, writeLedger } from '../run/run-ledger.js'
import { JOURNAL_FILE } from '../run/undo-journal.js'
import { createRunFolder } from './run-folder.js'
import { sweepDeadRuns } from './sweep.js'

const isRoot = process.getuid?.() === 0
const self = () => processIdentity(process.pid)!
/** A process that cannot be running: this pid, but started at another time. */
const dead = () => ({ ...self(), startTime: self().startTime + 1 })

let root: string
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vq-sweep-'))
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

function ledgerOf(runId: string, testProcess = dead(), supervisor: Ledger['supervisor'] = dead()): Ledger {
  return { runId, uid: process.getuid!(), testProcess, supervisor, testProcessPid: testProcess.pid, supervisorPid: supervisor?.pid, startedAt: '' }
}

async function runFolder(runId: string, ledger: Ledger | undefined = ledgerOf(runId)): Promise<string> {
  const dir = join(root, runId)
  mkdirSync(dir, { mode: 0o700 })
  if (ledger) await writeLedger(dir, ledger)
  return dir
}

test('a dead run is removed; a run whose test process or supervisor lives is not', async () => {
  const deadRun = await runFolder('dead0001')
  const preparing = await runFolder('abcd0001', ledgerOf('abcd0001', self(), undefined))
  const supervised = await runFolder('abcd0002', ledgerOf('abcd0002', dead(), self()))
  const undoing = await runFolder('abcd0003', ledgerOf('abcd0003', self(), dead()))
  const result = await sweepDeadRuns(root)
  expect(result.removed).toEqual(['dead0001'])
  expect(existsSync(deadRun)).toBe(false)
  for (const dir of [preparing, supervised, undoing]) expect(existsSync(dir)).toBe(true)
})

test('a run folder made by createRunFolder is live from the moment it appears, with mode 0700', async () => {
  const { runDir, runId } = await createRunFolder(root)
  expect(readdirSync(root)).toEqual([runId])
  expect(readdirSync(runDir)).toEqual(['ledger.json'])
  expect((await sweepDeadRuns(root)).removed).toEqual([])
  expect(existsSync(runDir)).toBe(true)
})

test('what it does not recognise as a dead run of this user is left alone, however old', async () => {
  const noLedger = await runFolder('fresh001', undefined)
  const badName = join(root, 'not-a-run')
  mkdirSync(badName)
  await writeLedger(badName, ledgerOf('not-a-run'))
  const otherRun = await runFolder('abcd0004', ledgerOf('ffff0004'))
  const openLedger = await runFolder('abcd0005')
  chmodSync(join(openLedger, 'ledger.json'), 0o644)
  const otherBoot = await runFolder('abcd0006', ledgerOf('abcd0006', { ...self(), bootId: 'zz' }))
  const oldFormat = await runFolder('abcd0007', undefined)
  writeFileSync(join(oldFormat, 'ledger.json'), JSON.stringify({ runId: 'abcd0007', testProcessPid: 999999, startedAt: '' }), { mode: 0o600 })
  const result = await sweepDeadRuns(root)
  expect(result.removed).toEqual([])
  for (const dir of [noLedger, badName, otherRun, openLedger, otherBoot, oldFormat]) expect(existsSync(dir)).toBe(true)
  expect(result.ignored.join('\n')).toContain('abcd0005: ')
})

test('a run folder still being made by a process that died goes; one being made by a live process stays', async () => {
  const deadDraft = join(root, '.abcd0010.new')
  mkdirSync(deadDraft, { mode: 0o700 })
  await writeLedger(deadDraft, ledgerOf('abcd0010', dead(), undefined))
  const liveDraft = join(root, '.abcd0011.new')
  mkdirSync(liveDraft, { mode: 0o700 })
  await writeLedger(liveDraft, ledgerOf('abcd0011', self(), undefined))
  const emptyDraft = join(root, '.abcd0012.new')
  mkdirSync(emptyDraft, { mode: 0o700 })
  expect((await sweepDeadRuns(root)).removed).toEqual(['abcd0010'])
  expect(readdirSync(root).sort()).toEqual(['.abcd0011.new', '.abcd0012.new'])
})

test('a symlink named like a run is not followed: its target stays', async () => {
  const target = mkdtempSync(join(tmpdir(), 'vq-sweep-target-'))
  try {
    await writeLedger(target, ledgerOf('abcd0008'))
    writeFileSync(join(target, 'precious'), 'x')
    symlinkSync(target, join(root, 'abcd0008'))
    expect((await sweepDeadRuns(root)).removed).toEqual([])
    expect(readdirSync(target).sort()).toEqual(['ledger.json', 'precious'])
  } finally {
    rmSync(target, { recursive: true, force: true })
  }
})

test.skipIf(!isRoot)("another user's run folder is left alone, even with a dead owner", async () => {
  const theirs = await runFolder('abcd0009')
  chownSync(theirs, 65534, 65534)
  const theirLedger = await runFolder('abcd000a')
  chownSync(join(theirLedger, 'ledger.json'), 65534, 65534)
  expect((await sweepDeadRuns(root)).removed).toEqual([])
  expect(existsSync(theirs) && existsSync(theirLedger)).toBe(true)
})

test('an old undo.json argv list or a planted journal entry never runs; such a folder is kept and reported', async () => {
  const marker = join(root, 'marker')
  const oldStyle = await runFolder('abcd000b')
  writeFileSync(join(oldStyle, 'undo.json'), JSON.stringify([['touch', marker]]), { mode: 0o600 })
  const planted = await runFolder('abcd000c')
  writeFileSync(join(planted, JOURNAL_FILE), JSON.stringify([['touch', marker], { kind: 'exec', argv: ['touch', marker], runId: 'abcd000c' }]), { mode: 0o600 })
  const result = await sweepDeadRuns(root)
  expect(existsSync(marker)).toBe(false)
  // The old list is not a journal: that run had nothing journaled, so it goes.
  expect(result.removed).toEqual(['abcd000b'])
  expect(result.kept).toEqual([expect.stringMatching(/^abcd000c: not used: .*; not used: /)])
  expect(existsSync(planted)).toBe(true)
})

test('folders vanishing under it (a live run stopping, a second sweep) are no error', async () => {
  const ids = Array.from({ length: 40 }, (_, index) => `dead${index.toString(16).padStart(4, '0')}`)
  for (const id of ids) await runFolder(id)
  const vanishing = (async () => {
    for (const id of ids.filter((_, index) => index % 3 === 0)) {
      rmSync(join(root, id), { recursive: true, force: true })
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const [first, second] = await Promise.all([sweepDeadRuns(root), sweepDeadRuns(root), vanishing])
  expect(readdirSync(root)).toEqual([])
  expect([...first.ignored, ...second.ignored]).toEqual([])
  const removed = new Set([...first.removed, ...second.removed])
  for (const id of removed) expect(ids).toContain(id)
})

test('a missing root is nothing to sweep', async () => {
  expect(await sweepDeadRuns(join(root, 'missing'))).toEqual({ removed: [], kept: [], ignored: [] })
})
