import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { commitSnapshot, findSnapshot, newSnapshotDraft, pruneSnapshots, removeAllSnapshots, snapshotCacheLimit, snapshotDir, snapshotKey, ramPath, statePath } from './snapshot-store.js'

const parts = { qemuVersion: 'QEMU emulator version 7.2.22', args: ['-m', '256'], fileHashes: { kernel: 'aa' }, extra: { console: 'ttyS0' } }
const scratch: string[] = []
const tempCache = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-snapshots-'))
  scratch.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function saved(cache: string, guest: string, state: string, ram?: string): Promise<string> {
  const key = snapshotKey(parts)
  const dir = snapshotDir(cache, guest, key)
  const draft = await newSnapshotDraft(dir)
  writeFileSync(statePath(draft), state)
  if (ram !== undefined) writeFileSync(ramPath(draft), ram)
  await commitSnapshot(draft, dir, guest, key)
  return dir
}

test("a committed snapshot's state hash is in the cache's file memo, so its first restore need not hash it again", async () => {
  const cache = tempCache()
  const dir = await saved(cache, 'guestA', 'state bytes')
  const memo = JSON.parse(readFileSync(join(cache, 'file-hashes.json'), 'utf8'))
  expect(memo[statePath(dir)].facts.sha256).toBe(createHash('sha256').update('state bytes').digest('hex'))
})

test('the key changes with anything that defines the guest, and only then', () => {
  expect(snapshotKey(parts)).toBe(snapshotKey({ ...parts }))
  expect(snapshotKey({ ...parts, qemuVersion: 'QEMU emulator version 8.0.0' })).not.toBe(snapshotKey(parts))
  expect(snapshotKey({ ...parts, args: ['-m', '128'] })).not.toBe(snapshotKey(parts))
  expect(snapshotKey({ ...parts, fileHashes: { kernel: 'ab' } })).not.toBe(snapshotKey(parts))
})

test('a committed snapshot is found valid; a missing one is missing', async () => {
  const cache = tempCache()
  const dir = await saved(cache, 'guestA', 'state bytes')
  expect(await findSnapshot(dir, snapshotKey(parts))).toEqual({ status: 'valid' })
  expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toMatchObject({ guest: 'guestA', stateBytes: 11 })
  expect(await findSnapshot(join(cache, 'snapshots', 'nothing'), 'k')).toEqual({ status: 'missing' })
  expect(readdirSync(join(cache, 'snapshots'))).toEqual([dir.split('/').at(-1)])
})

test('a snapshot whose state changed, was cut short or whose manifest is broken is deleted, not trusted', async () => {
  const key = snapshotKey(parts)
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['flipped', (dir) => writeFileSync(statePath(dir), 'state bytez'), /checksum/],
    ['cut', (dir) => writeFileSync(statePath(dir), 'state'), /5 bytes, expected 11/],
    ['manifest', (dir) => writeFileSync(join(dir, 'manifest.json'), '{'), /unreadable/],
  ]
  for (const [name, damage, reason] of cases) {
    const dir = await saved(tempCache(), name, 'state bytes')
    damage(dir)
    const found = await findSnapshot(dir, key)
    expect(found.status, name).toBe('invalid')
    expect(found.status === 'invalid' && found.reason, name).toMatch(reason)
    expect(readdirSync(join(dir, '..')), name).toEqual([])
  }
  const dir = await saved(tempCache(), 'other', 'state bytes')
  expect(await findSnapshot(dir, 'another-key')).toMatchObject({ status: 'invalid' })
})

test("a snapshot's memory file is part of it: in its manifest and the file memo, and never trusted once changed, cut, gone or added", async () => {
  const cache = tempCache()
  const dir = await saved(cache, 'guestA', 'state', 'memory bytes')
  expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toMatchObject({ ramBytes: 12, ramSha256: createHash('sha256').update('memory bytes').digest('hex') })
  expect(JSON.parse(readFileSync(join(cache, 'file-hashes.json'), 'utf8'))[ramPath(dir)].facts.sha256).toBe(createHash('sha256').update('memory bytes').digest('hex'))
  expect(await findSnapshot(dir, snapshotKey(parts))).toEqual({ status: 'valid' })
  const cases: [string, string | undefined, (dir: string) => void, RegExp][] = [
    ['flipped', 'memory bytes', (dir) => writeFileSync(ramPath(dir), 'memory bytez'), /memory file does not match its checksum/],
    ['cut', 'memory bytes', (dir) => writeFileSync(ramPath(dir), 'memory'), /memory file has 6 bytes, expected 12/],
    ['gone', 'memory bytes', (dir) => rmSync(ramPath(dir)), /memory file has gone/],
    ['added', undefined, (dir) => writeFileSync(ramPath(dir), 'memory'), /memory file has 6 bytes, expected none/],
  ]
  for (const [name, ram, damage, reason] of cases) {
    const damaged = await saved(tempCache(), name, 'state', ram)
    damage(damaged)
    const found = await findSnapshot(damaged, snapshotKey(parts))
    expect(found.status === 'invalid' && found.reason, name).toMatch(reason)
    expect(readdirSync(join(damaged, '..')), name).toEqual([])
  }
})

test('pruning keeps the most recently used snapshots and drops drafts of dead runs', async () => {
  const cache = tempCache()
  const dirs = [await saved(cache, 'a', '1'), await saved(cache, 'b', '2'), await saved(cache, 'c', '3')]
  const old = new Date(Date.now() - 7_200_000)
  utimesSync(dirs[0]!, old, old)
  const draft = await newSnapshotDraft(join(cache, 'snapshots', 'd-key'))
  utimesSync(draft, old, old)
  await pruneSnapshots(join(cache, 'snapshots'), 2)
  expect(readdirSync(join(cache, 'snapshots')).sort()).toEqual([dirs[1]!, dirs[2]!].map((dir) => dir.split('/').at(-1)).sort())
})

test('pruning also keeps their total size under the limit, least recently used going first', async () => {
  const cache = tempCache()
  const dirs = [await saved(cache, 'a', 'x'.repeat(600)), await saved(cache, 'b', 'y'.repeat(600)), await saved(cache, 'c', 'z'.repeat(300))]
  dirs.forEach((dir, index) => {
    const when = new Date(Date.now() - (3 - index) * 60_000) // a oldest, c newest
    utimesSync(dir, when, when)
  })
  await pruneSnapshots(join(cache, 'snapshots'), 32, 1000)
  expect(readdirSync(join(cache, 'snapshots')).sort()).toEqual([dirs[1]!, dirs[2]!].map((dir) => dir.split('/').at(-1)).sort())
})

test('the size limit comes from VITEST_QEMU_SNAPSHOT_CACHE_MB, 4 GiB by default, and a wrong value is an error', () => {
  expect(snapshotCacheLimit(undefined)).toBe(4096 * 2 ** 20)
  expect(snapshotCacheLimit('512')).toBe(512 * 2 ** 20)
  expect(() => snapshotCacheLimit('lots')).toThrow(/VITEST_QEMU_SNAPSHOT_CACHE_MB must be a whole number of MiB, got "lots"/)
})

test('removing every snapshot tells how many and how large they were', async () => {
  const cache = tempCache()
  await saved(cache, 'a', '1234')
  await saved(cache, 'b', '56', '789')
  expect(await removeAllSnapshots(cache)).toEqual({ count: 2, bytes: 9 })
  expect(readdirSync(join(cache, 'snapshots'))).toEqual([])
  expect(await removeAllSnapshots(tempCache())).toEqual({ count: 0, bytes: 0 })
})
