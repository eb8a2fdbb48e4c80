import { mkdirSync, mkdtempSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { commitMemoryImage, hasMemoryImage, memoryImageChecksumProblem, memoryImagePaths, removeMemoryImageDrafts } from './snapshot-memory.js'
import { sha256OfFile } from './snapshot-store.js'

const root = mkdtempSync(join(tmpdir(), 'vq-memory-image-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const sha = (text: string) => createHash('sha256').update(text).digest('hex')

async function imageIn(name: string) {
  const dir = join(root, name)
  const { memory, devices } = memoryImagePaths(dir)
  mkdirSync(dir, { recursive: true })
  writeFileSync(memory, 'guest ram')
  writeFileSync(devices, 'devices')
  await commitMemoryImage(dir, { stateSha256: 'state-1', memoryBytes: 9, memorySha256: sha('guest ram'), devicesBytes: 7, devicesSha256: sha('devices') })
  return { dir, memory, devices }
}

test('an image is whole once its manifest is written, for the state it was made from only, and while its files have their sizes', async () => {
  const { dir, memory } = await imageIn('whole')
  expect(await hasMemoryImage(dir, 'state-1')).toBe(true)
  expect(await hasMemoryImage(dir, 'state-2')).toBe(false)
  expect(await memoryImageChecksumProblem(dir, sha256OfFile)).toBeUndefined()
  truncateSync(memory, 4)
  expect(await hasMemoryImage(dir, 'state-1')).toBe(false)
  expect(await hasMemoryImage(join(root, 'none'), 'state-1')).toBe(false)
})

test('an image whose files do not match their checksums is told, never trusted', async () => {
  const { dir, devices } = await imageIn('damaged')
  writeFileSync(devices, 'DEVICES')
  expect(await hasMemoryImage(dir, 'state-1')).toBe(true)
  expect(await memoryImageChecksumProblem(dir, sha256OfFile)).toBe('its memory image does not match its checksums')
})

test("drafts an hour old are removed, a run's current ones kept", async () => {
  const { dir } = await imageIn('drafts')
  writeFileSync(join(dir, 'memory.draft-1-1'), '')
  writeFileSync(join(dir, 'devices.draft-2-2'), '')
  const hourAgo = new Date(Date.now() - 3_700_000)
  utimesSync(join(dir, 'memory.draft-1-1'), hourAgo, hourAgo)
  await removeMemoryImageDrafts(dir)
  expect((await readdir(dir)).sort()).toEqual(['devices', 'devices.draft-2-2', 'memory', 'memory.json'])
})
