import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { processIdentity } from './process-identity.js'
import { claimLogDir, logDirInUse, releaseLogDir } from './run-logs.js'

const dir = mkdtempSync(join(tmpdir(), 'vq-run-logs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('a log folder is in use while its lab runs: its preparing process before a supervisor, then its supervisor', async () => {
  expect(logDirInUse(dir)).toBe(false)
  const self = processIdentity(process.pid)
  await claimLogDir(dir, { testProcess: self })
  expect(logDirInUse(dir)).toBe(true)
  // A supervisor that has exited (its pid's start time no longer matches, or the pid is gone) no longer holds it.
  const gone = { pid: spawnSync('true').pid!, startTime: 1, bootId: self!.bootId }
  await claimLogDir(dir, { testProcess: self, supervisor: gone })
  expect(logDirInUse(dir)).toBe(false)
  await claimLogDir(dir, { testProcess: self })
  await releaseLogDir(dir)
  expect(logDirInUse(dir)).toBe(false)
})
