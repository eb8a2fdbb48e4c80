import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, test, vi } from 'vitest'
import { configuredRuntimeRoot, existingRuntimeRoot, runtimeRoot } from './runtime-dir.js'

const isRoot = process.getuid?.() === 0
const saved = { ...process.env }
let scratch: string
const made: string[] = []

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vq-runtime-root-'))
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
})
afterEach(() => {
  vi.restoreAllMocks()
  process.env = { ...saved }
  rmSync(scratch, { recursive: true, force: true })
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function useRoot(path: string): string {
  process.env.VITEST_QEMU_RUNTIME_DIR = path
  const root = runtimeRoot()
  if (root !== path) made.push(root)
  return root
}

function warnings(): string {
  return vi.mocked(process.stderr.write).mock.calls.map(([text]) => String(text)).join('')
}

test('a missing root is made with mode 0700 and used', () => {
  const path = join(scratch, 'parent', 'root')
  expect(useRoot(path)).toBe(path)
  expect(statSync(path).mode & 0o777).toBe(0o700)
  expect(warnings()).toBe('')
})

test('an existing private root is used as it is', () => {
  const path = join(scratch, 'root')
  mkdirSync(path, { mode: 0o700 })
  writeFileSync(join(path, 'keep'), '')
  expect(useRoot(path)).toBe(path)
  expect(readdirSync(path)).toEqual(['keep'])
})

test('a root open to others is not used: a fresh private folder instead, with a one-line warning', () => {
  const path = join(scratch, 'open')
  mkdirSync(path)
  chmodSync(path, 0o777)
  const root = useRoot(path)
  expect(root).not.toBe(path)
  expect(statSync(root).mode & 0o777).toBe(0o700)
  expect(statSync(root).uid).toBe(process.getuid?.())
  // (With CI set, log lines start with a timestamp.)
  expect(warnings()).toMatch(/^(\S+ )?\[vitest-qemu\] the runtime root is not private \(.*open has mode 777; only its owner may have access \(0700\)\); this run uses .* instead\n$/)
  // Workers and `up`'s hints find the run where it is.
  expect(process.env.VITEST_QEMU_RUNTIME_DIR).toBe(root)
  expect(runtimeRoot()).toBe(root)
})

test('a root that is a symlink is not followed: its target stays untouched', () => {
  const target = join(scratch, 'target')
  mkdirSync(target, { mode: 0o700 })
  writeFileSync(join(target, 'theirs'), 'x')
  const link = join(scratch, 'link')
  symlinkSync(target, link)
  const root = useRoot(link)
  expect(root).not.toBe(link)
  expect(root.startsWith(target)).toBe(false)
  expect(readdirSync(target)).toEqual(['theirs'])
  expect(warnings()).toContain('link is a symbolic link')
})

test.skipIf(!isRoot)('a root made by another user is not used, even with mode 0700', () => {
  const path = join(scratch, 'foreign')
  mkdirSync(path, { mode: 0o700 })
  chownSync(path, 65534, 65534)
  const root = useRoot(path)
  expect(root).not.toBe(path)
  expect(warnings()).toContain('belongs to uid 65534')
})

test('an empty XDG_RUNTIME_DIR counts as unset, never as a relative path', () => {
  delete process.env.VITEST_QEMU_RUNTIME_DIR
  process.env.XDG_RUNTIME_DIR = ''
  expect(configuredRuntimeRoot(1000)).toBe(join(tmpdir(), 'vitest-qemu-1000'))
  process.env.XDG_RUNTIME_DIR = scratch
  expect(configuredRuntimeRoot(1000)).toBe(join(scratch, 'vitest-qemu-1000'))
  expect(configuredRuntimeRoot(0)).toBe('/run/vitest-qemu')
})

test('those who only look (cleanup, console) get the root only when it exists and is private', () => {
  const path = join(scratch, 'looked')
  process.env.VITEST_QEMU_RUNTIME_DIR = path
  const warn = vi.fn()
  expect(existingRuntimeRoot(warn)).toBeUndefined()
  expect(existsSync(path)).toBe(false)
  expect(warn).not.toHaveBeenCalled()
  mkdirSync(path, { mode: 0o700 })
  expect(existingRuntimeRoot(warn)).toBe(path)
  chmodSync(path, 0o1777)
  expect(existingRuntimeRoot(warn)).toBeUndefined()
  expect(warn).toHaveBeenCalledWith(expect.stringContaining('ignoring the runtime root'))
})
