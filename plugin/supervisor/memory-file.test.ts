import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { MemoryFile, memoryFileDir } from './memory-file.js'

test('memory files go to /dev/shm when it has room for all of them, else to the fallback', () => {
  const free = (bytes: number) => () => ({ bavail: bytes / 4096, bsize: 4096 })
  expect(memoryFileDir(256 * 2 ** 20, '/run/x', free(1024 * 2 ** 20))).toBe('/dev/shm')
  // A container's 64 MB /dev/shm.
  expect(memoryFileDir(256 * 2 ** 20, '/run/x', free(64 * 2 ** 20))).toBe('/run/x')
  expect(memoryFileDir(1, '/run/x', () => { throw new Error('ENOENT') })).toBe('/run/x')
})

test('a memory file has no name in its folder and is reached through /proc while open; closing it twice is no error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-memory-'))
  try {
    const file = new MemoryFile(dir, 'guestA')
    expect(readdirSync(dir)).toEqual([])
    expect(file.path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
    writeFileSync(file.path, 'guest memory')
    expect(readFileSync(file.path, 'utf8')).toBe('guest memory')
    file.close()
    expect(() => file.close()).not.toThrow()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
