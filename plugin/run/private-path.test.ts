import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { privateDirProblem, readPrivateFile } from './private-path.js'

const isRoot = process.getuid?.() === 0
let scratch: string | undefined
afterEach(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

function newScratch(): string {
  scratch = mkdtempSync(join(tmpdir(), 'vq-private-'))
  return scratch
}

test('a folder of this user with mode 0700 is private; a symlink to it, an open mode or a file is not', () => {
  const dir = newScratch()
  const own = join(dir, 'own')
  mkdirSync(own, { mode: 0o700 })
  expect(privateDirProblem(own)).toBeUndefined()
  symlinkSync(own, join(dir, 'link'))
  expect(privateDirProblem(join(dir, 'link'))).toMatch(/is a symbolic link/)
  const open = join(dir, 'open')
  mkdirSync(open)
  chmodSync(open, 0o755)
  expect(privateDirProblem(open)).toMatch(/has mode 755; only its owner/)
  chmodSync(open, 0o710)
  expect(privateDirProblem(open)).toMatch(/has mode 710/)
  writeFileSync(join(dir, 'file'), '')
  expect(privateDirProblem(join(dir, 'file'))).toMatch(/is not a folder/)
  expect(() => privateDirProblem(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
})

test.skipIf(!isRoot)("a folder or file of another user is not private, whatever its mode", () => {
  const dir = newScratch()
  const foreign = join(dir, 'foreign')
  mkdirSync(foreign, { mode: 0o700 })
  chownSync(foreign, 65534, 65534)
  expect(privateDirProblem(foreign)).toMatch(/belongs to uid 65534, not to this user/)
  const file = join(dir, 'ledger.json')
  writeFileSync(file, '{}', { mode: 0o600 })
  chownSync(file, 65534, 65534)
  expect(() => readPrivateFile(file)).toThrow(/belongs to uid 65534/)
})

test('a private file is read; a symlink to one, an open mode, a folder or a fifo are refused', () => {
  const dir = newScratch()
  const file = join(dir, 'journal.json')
  writeFileSync(file, '[]\n', { mode: 0o600 })
  expect(readPrivateFile(file)).toBe('[]\n')
  symlinkSync(file, join(dir, 'link.json'))
  expect(() => readPrivateFile(join(dir, 'link.json'))).toThrow(expect.objectContaining({ code: 'ELOOP' }))
  chmodSync(file, 0o644)
  expect(() => readPrivateFile(file)).toThrow(/has mode 644; only its owner may have access/)
  expect(() => readPrivateFile(dir)).toThrow(/not a regular file/)
  expect(() => readPrivateFile(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
})
