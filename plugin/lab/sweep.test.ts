import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { writeLedger } from '../common/run-ledger.js'
import { sweepDeadRuns } from './sweep.js'

test('removes the folders of dead runs and never a live run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vq-sweep-'))
  const deadPid = spawnSync('true').pid!
  const runs = { dead: join(root, 'dead0001'), preparing: join(root, 'live0001'), noLedger: join(root, 'fresh001') }
  for (const dir of Object.values(runs)) mkdirSync(dir)
  await writeLedger(runs.dead, { runId: 'dead0001', testProcessPid: process.pid, supervisorPid: deadPid, startedAt: '' })
  await writeLedger(runs.preparing, { runId: 'live0001', testProcessPid: process.pid, startedAt: '' })
  expect(await sweepDeadRuns(root)).toEqual(['dead0001'])
  expect(existsSync(runs.dead)).toBe(false)
  expect(existsSync(runs.preparing)).toBe(true)
  // A folder without a ledger is left alone while it is young (its run may be writing it).
  expect(existsSync(runs.noLedger)).toBe(true)
  expect(await sweepDeadRuns(root, 0)).toEqual(['fresh001'])
})
