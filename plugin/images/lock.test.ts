import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { withLock } from './lock.js'

const scratch = () => mkdtempSync(join(tmpdir(), 'vq-lock-'))

test('a lock left by a dead process is taken over at once', async () => {
  const dir = scratch()
  const lock = join(dir, 'image.lock')
  mkdirSync(lock)
  writeFileSync(join(lock, 'pid'), String(spawnSync('true').pid))
  expect(await withLock(lock, async () => 'built', 5000)).toBe('built')
  expect(readdirSync(dir)).toEqual([])
})

test('a lock with an empty pid file, older than the grace period, is taken over; a fresh one is waited for', async () => {
  const dir = scratch()
  const lock = join(dir, 'image.lock')
  mkdirSync(lock)
  writeFileSync(join(lock, 'pid'), '')
  await expect(withLock(lock, async () => 'built', 600)).rejects.toThrow(/timed out after 0.6 s waiting for the lock .* \(held by pid unknown\)/)
  const old = (Date.now() - 60_000) / 1000
  utimesSync(lock, old, old)
  expect(await withLock(lock, async () => 'built', 5000)).toBe('built')
})

test('a live owner is waited for, and several waiters take turns', async () => {
  const lock = join(scratch(), 'image.lock')
  const order: string[] = []
  const work = (name: string) => withLock(lock, async () => {
    order.push(`${name} in`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    order.push(`${name} out`)
  })
  await Promise.all([work('a'), work('b'), work('c')])
  for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace(' in', ' out'))
})
