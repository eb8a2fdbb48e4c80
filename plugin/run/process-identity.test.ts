import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { which } from '../common/which.js'
import { expect, test } from 'vitest'
import { currentBootId, isProcessIdentity, isRunning, processIdentity, startTimeOf } from './process-identity.js'

test('this process is running by its identity; the same pid with another start time or boot is not', () => {
  const self = processIdentity(process.pid)!
  expect(isProcessIdentity(self)).toBe(true)
  expect(self.startTime).toBeGreaterThan(0)
  expect(isRunning(self)).toBe(true)
  // A reused pid: same number, a later start.
  expect(isRunning({ ...self, startTime: self.startTime + 1 })).toBe(false)
  // Another boot: /proc/PID/stat's start times begin again at zero.
  expect(isRunning({ ...self, bootId: '00000000-0000-0000-0000-000000000000' })).toBe(false)
  expect(currentBootId()).toBe(self.bootId)
})

test('a process that has ended has no identity, and its recorded one no longer runs', () => {
  const pid = spawnSync('true').pid!
  expect(startTimeOf(pid)).toBeUndefined()
  expect(processIdentity(pid)).toBeUndefined()
  expect(isRunning({ pid, startTime: 1, bootId: currentBootId() })).toBe(false)
})

test('a command name with spaces and parentheses does not shift the fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-identity-'))
  const odd = join(dir, 'a) 1 2 (b')
  symlinkSync(which('sleep')!, odd)
  const child = spawn(odd, ['30'], { stdio: 'ignore' })
  try {
    await new Promise((resolve) => child.once('spawn', resolve))
    expect(readFileSync(`/proc/${child.pid}/stat`, 'utf8')).toContain('(a) 1 2 (b)')
    // Started after this process, in clock ticks since boot (a shifted field would be another number).
    const ours = startTimeOf(process.pid)!
    const its = startTimeOf(child.pid!)!
    expect(its).toBeGreaterThanOrEqual(ours)
    expect(its - ours).toBeLessThan(100 * 3600)
    const identity = processIdentity(child.pid!)!
    expect(isRunning(identity)).toBe(true)
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(isRunning(identity)).toBe(false)
  } finally {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

test('identities read from disk are checked field by field', () => {
  expect(isProcessIdentity({ pid: 1, startTime: 5, bootId: currentBootId() })).toBe(true)
  expect(isProcessIdentity({ pid: '1', startTime: 5, bootId: currentBootId() })).toBe(false)
  expect(isProcessIdentity({ pid: 1, bootId: currentBootId() })).toBe(false)
  expect(isProcessIdentity({ pid: 0, startTime: 5, bootId: currentBootId() })).toBe(false)
  expect(isProcessIdentity({ pid: 1, startTime: 5, bootId: '$(touch x)' })).toBe(false)
  expect(isProcessIdentity(null)).toBe(false)
})
