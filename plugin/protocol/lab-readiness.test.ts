import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import type { LabDescriptor } from './lab-descriptor.js'
import { waitForLabOutcome, writeLabOutcome } from './lab-readiness.js'

const dirs: string[] = []
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-readiness-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

test('a worker waiting for the lab gets the ready descriptor once it is written', async () => {
  const file = join(scratch(), 'ready.json')
  const waiting = waitForLabOutcome({ file, by: Date.now() + 5_000 })
  await new Promise((resolve) => setTimeout(resolve, 50))
  await writeLabOutcome(file, { ready: { runId: 'abc' } as LabDescriptor })
  expect(await waiting).toMatchObject({ runId: 'abc' })
})

test("a boot that failed rejects with the boot's own error", async () => {
  const file = join(scratch(), 'ready.json')
  await writeLabOutcome(file, { failed: "vitest-qemu: the lab did not come up:\nbroken: not ready at stage 'console'" })
  await expect(waitForLabOutcome({ file, by: Date.now() + 5_000 })).rejects.toThrow(/the lab did not come up:\nbroken: not ready at stage 'console'/)
})

test('nothing written by the deadline: the wait ends, naming the file', async () => {
  const file = join(scratch(), 'ready.json')
  await expect(waitForLabOutcome({ file, by: Date.now() + 60 })).rejects.toThrow(`nothing in ${file}`)
})

test('the worker goes on as the outcome is written, not at its next look', async () => {
  const file = join(scratch(), 'ready.json')
  // Looks a minute apart: only the folder's watcher can end the wait in time.
  const waiting = waitForLabOutcome({ file, by: Date.now() + 120_000 }, 60_000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const written = Date.now()
  await writeLabOutcome(file, { ready: { runId: 'fast' } as LabDescriptor })
  expect(await waiting).toMatchObject({ runId: 'fast' })
  expect(Date.now() - written).toBeLessThan(1000)
})
