import { describe, expect, test } from 'vitest'
import { writeCpio } from './cpio.js'

function readCpio(archive: Buffer) {
  const entries: { name: string; mode: number; size: number; data: string; rdev: [number, number] }[] = []
  let offset = 0
  for (;;) {
    const header = archive.toString('ascii', offset, offset + 110)
    expect(header.slice(0, 6)).toBe('070701')
    const field = (index: number) => parseInt(header.slice(6 + index * 8, 14 + index * 8), 16)
    const nameSize = field(11)
    const size = field(6)
    const name = archive.toString('utf8', offset + 110, offset + 110 + nameSize - 1)
    offset += 110 + nameSize
    offset += (4 - (offset % 4)) % 4
    const data = archive.toString('utf8', offset, offset + size)
    offset += size
    offset += (4 - (offset % 4)) % 4
    if (name === 'TRAILER!!!') break
    entries.push({ name, mode: field(1), size, data, rdev: [field(9), field(10)] })
  }
  expect(offset).toBe(archive.length)
  return entries
}

describe('writeCpio', () => {
  test('writes newc entries the kernel can read: files, dirs, symlinks, device nodes, 4-byte aligned', () => {
    const archive = writeCpio([
      { type: 'dir', path: 'etc' },
      { type: 'file', path: '/etc/hostname', data: 'guestA\n' },
      { type: 'file', path: 'init', data: '#!/bin/sh\n', mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    ])
    const entries = readCpio(archive)
    expect(entries.map((entry) => [entry.name, entry.mode.toString(8)])).toEqual([
      ['etc', '40755'],
      ['etc/hostname', '100644'],
      ['init', '100755'],
      ['bin/sh', '120777'],
      ['dev/console', '20600'],
    ])
    expect(entries[1]!.data).toBe('guestA\n')
    expect(entries[3]!.data).toBe('busybox')
    expect(entries[4]!.rdev).toEqual([5, 1])
  })

  test('refuses paths that climb out of the archive', () => {
    expect(() => writeCpio([{ type: 'file', path: '../etc/passwd', data: '' }])).toThrow(/invalid path/)
  })
})
