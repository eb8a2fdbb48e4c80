import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { claimLogDir, logDirInUse, releaseLogDir } from './run-logs.js'

const dir = mkdtempSync(join(tmpdir(), 'vq-run-logs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('a log folder is in use while its lab runs: its preparing process before a supervisor, then its supervisor', async () => {
  expect(logDirInUse(dir)).toBe(false)
  await claimLogDir(dir, { testProcessPid: process.pid })
  expect(logDirInUse(dir)).toBe(true)
  // A supervisor that has exited (a pid of a process that is gone) no longer holds it.
  const gone = spawnSync('true').pid!
  await claimLogDir(dir, { testProcessPid: process.pid, supervisorPid: gone })
  expect(logDirInUse(dir)).toBe(false)
  await claimLogDir(dir, { testProcessPid: process.pid })
  await releaseLogDir(dir)
  expect(logDirInUse(dir)).toBe(false)
})
