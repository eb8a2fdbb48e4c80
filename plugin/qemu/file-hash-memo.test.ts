import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { fileFact, fileHash, sha256OfFile } from './file-hash-memo.js'

const dir = mkdtempSync(join(tmpdir(), 'vq-hash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const sha = (text: string) => createHash('sha256').update(text).digest('hex')

test('a file is hashed, remembered in the cache, and hashed again once it changes', async () => {
  const file = join(dir, 'kernel')
  writeFileSync(file, 'first')
  expect(await fileHash(file, dir)).toBe(sha('first'))
  expect(JSON.parse(readFileSync(join(dir, 'file-hashes.json'), 'utf8'))[file].facts.sha256).toBe(sha('first'))
  appendFileSync(file, ' and more')
  expect(await fileHash(file, dir)).toBe(sha('first and more'))
  // Replaced by another file of the same size: a new change time (and inode), a new hash.
  rmSync(file)
  writeFileSync(file, 'FIRST AND MORE')
  expect(await fileHash(file, dir)).toBe(sha('FIRST AND MORE'))
})

test('files that are gone are forgotten when the memo is next written', async () => {
  const gone = join(dir, 'old-state')
  const kept = join(dir, 'new-state')
  writeFileSync(gone, 'old')
  writeFileSync(kept, 'new')
  await fileHash(gone, dir)
  rmSync(gone)
  await fileHash(kept, dir)
  const memo = JSON.parse(readFileSync(join(dir, 'file-hashes.json'), 'utf8'))
  expect(Object.keys(memo)).toContain(kept)
  expect(Object.keys(memo)).not.toContain(gone)
})

test('another fact of a file is learnt once while the file stays the same, beside its hash, and again once it changes', async () => {
  const binary = join(dir, 'qemu-system-test')
  writeFileSync(binary, 'version 1')
  let asked = 0
  const version = () => fileFact(binary, dir, 'version', async () => `v${++asked}`)
  expect(await version()).toBe('v1')
  expect(await fileHash(binary, dir)).toBe(sha('version 1'))
  expect(await version()).toBe('v1')
  expect(asked).toBe(1)
  writeFileSync(binary, 'version 2')
  expect(await version()).toBe('v2')
  expect(asked).toBe(2)
})

test("what another process wrote into the memo after this one read it is found there, and kept when this one writes", async () => {
  const cache = mkdtempSync(join(dir, 'shared-memo-'))
  const [state, kernel] = [join(cache, 'state'), join(cache, 'kernel')]
  writeFileSync(state, 'state')
  writeFileSync(kernel, 'kernel')
  let asked = 0
  expect(await fileFact(kernel, cache, 'version', async () => `v${++asked}`)).toBe('v1')
  // Another process (a supervisor that saved a snapshot) records the state's hash.
  const memoFile = join(cache, 'file-hashes.json')
  const { ino, size, ctimeMs } = statSync(state)
  writeFileSync(memoFile, JSON.stringify({ ...JSON.parse(readFileSync(memoFile, 'utf8')), [state]: { ino, size, ctimeMs, facts: { sha256: 'recorded' } } }))
  expect(await fileHash(state, cache)).toBe('recorded')
  expect(await fileHash(kernel, cache)).toBe(sha('kernel'))
  const memo = JSON.parse(readFileSync(memoFile, 'utf8'))
  expect(memo[state].facts.sha256).toBe('recorded')
  expect(memo[kernel].facts).toEqual({ version: 'v1', sha256: sha('kernel') })
  expect(asked).toBe(1)
})

test('an entry of an older memo, without its facts, is learnt again', async () => {
  const cache = mkdtempSync(join(dir, 'old-memo-'))
  const file = join(cache, 'kernel')
  writeFileSync(file, 'kernel')
  // The memo's earlier form, with the hash beside the identity: taken for unknown.
  const { ino, size, ctimeMs } = statSync(file)
  writeFileSync(join(cache, 'file-hashes.json'), JSON.stringify({ [file]: { ino, size, ctimeMs, sha256: 'not-this' } }))
  expect(await fileHash(file, cache)).toBe(sha('kernel'))
})

test("a large file (a snapshot's memory) is hashed by sha256sum, or by this process where that is missing, to the same hash", async () => {
  const file = join(dir, 'memory')
  const content = Buffer.alloc(17 << 20)
  content.write('guest memory', 5 << 20)
  writeFileSync(file, content)
  const expected = createHash('sha256').update(content).digest('hex')
  expect(await sha256OfFile(file)).toBe(expected)
  const path = process.env.PATH
  process.env.PATH = dir
  try {
    expect(await sha256OfFile(file)).toBe(expected)
  } finally {
    process.env.PATH = path
  }
})
