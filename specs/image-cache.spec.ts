import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, onTestFinished, test } from 'vitest'

// Two runs that need the same default image at once: one builds it, the other waits
// for the lock and uses it; the cache ends with one entry and no leftovers.

test('two builds of the same default image at once both succeed and leave one cache entry', { timeout: 240_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'vq-cache-'))
  const cli = join(import.meta.dirname, '..', 'dist', 'plugin', 'cli.js')
  const build = () => execa(process.execPath, [cli, 'image', 'build', '--arch', 'aarch64'], { env: { VITEST_QEMU_CACHE: cache }, reject: false, all: true })
  const [first, second] = await Promise.all([build(), build()])
  onTestFinished(() => rmSync(cache, { recursive: true, force: true }))
  expect(first.exitCode, first.all).toBe(0)
  expect(second.exitCode, second.all).toBe(0)
  expect(first.stdout).toBe(second.stdout)
  const entries = readdirSync(join(cache, 'images'))
  expect(entries).toHaveLength(1)
  expect(entries[0]).toMatch(/^aarch64-[0-9a-f]{16}$/)
  expect(readdirSync(join(cache, 'images', entries[0]!)).sort()).toEqual(['initrd.cpio', 'manifest.json', 'rootfs.ext4', 'used', 'vmlinuz'])
  // Exactly one of the two did the building.
  expect([first.stderr, second.stderr].filter((log) => log.includes('building the default aarch64 guest image'))).toHaveLength(1)
})

test('a cache on a full filesystem: a clear error naming the path; once there is room, the next build starts at once', { timeout: 240_000 }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'vq-full-cache-'))
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', cache])
  onTestFinished(async () => {
    await execa('umount', [cache], { reject: false })
    rmSync(cache, { recursive: true, force: true })
  })
  const cli = join(import.meta.dirname, '..', 'dist', 'plugin', 'cli.js')
  const build = () => execa(process.execPath, [cli, 'image', 'build', '--arch', 'aarch64'], { env: { VITEST_QEMU_CACHE: cache }, reject: false, all: true })
  const full = await build()
  expect(full.exitCode, full.all).toBe(1)
  expect(full.stderr).toMatch(new RegExp(`no space left on the device holding ${cache}/images/aarch64-[0-9a-f]{16} \\(the cache folder ${cache};.* MiB free, building an image needs 512 MiB`))
  await execa('mount', ['-o', 'remount,size=1g', cache])
  const started = Date.now()
  const roomy = await build()
  expect(roomy.exitCode, roomy.all).toBe(0)
  // No lock left behind to wait for: the build began within seconds, not after a lock's timeout.
  expect(roomy.stderr).not.toContain('waiting for the lock')
  expect(Date.now() - started).toBeLessThan(120_000)
})
