import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { firstSaveNote, memoryFileFits, snapshotFor, snapshotIneligibility, snapshotsEnabled } from './snapshot-setup.js'

test('VITEST_QEMU_SNAPSHOTS wins over the config either way', () => {
  // '' stands for unset (undefined would mean "read this process's environment").
  expect(snapshotsEnabled(false, '')).toBe(false)
  expect(snapshotsEnabled(true, '')).toBe(true)
  expect(snapshotsEnabled(false, '1')).toBe(true)
  expect(snapshotsEnabled(true, '0')).toBe(false)
  expect(snapshotsEnabled(true, 'off')).toBe(false)
})

test('guests with storage are never snapshotted: a disk would not match the restored memory', () => {
  const plan = planLab(
    {
      bridges: { br0: { subnet: '10.0.0.0/24' } },
      guests: {
        plain: { bridge: 'br0', ip: '10.0.0.2' },
        disk: { bridge: 'br0', ip: '10.0.0.3', kernel: 'k', rootfs: 'r.ext4' },
        drive: { bridge: 'br0', ip: '10.0.0.4', qemuArgs: ['-drive', 'file=x.img,if=virtio'] },
      },
    },
    { root: '/p', fileExists: () => true },
  )
  expect(plan.guests.map(snapshotIneligibility)).toEqual([undefined, 'it has a root disk', 'its qemuArgs attach storage'])
})

test("a guest's memory can be a file of its own on the default images' machines, unless the guest's own arguments touch its memory or machine", () => {
  const plan = planLab(
    {
      bridges: { br0: { subnet: '10.0.0.0/24' } },
      guests: {
        plain: { bridge: 'br0', ip: '10.0.0.2' },
        q35: { bridge: 'br0', ip: '10.0.0.3', machine: 'pc-q35-7.2,smm=off' },
        arm: { bridge: 'br0', ip: '10.0.0.4', arch: 'arm' },
        board: { bridge: 'br0', ip: '10.0.0.5', arch: 'arm', machine: 'vexpress-a9' },
        numa: { bridge: 'br0', ip: '10.0.0.6', qemuArgs: ['-numa', 'node,nodeid=0'] },
        backend: { bridge: 'br0', ip: '10.0.0.7', qemuArgs: ['-object', 'memory-backend-ram,id=m,size=128M'] },
        rng: { bridge: 'br0', ip: '10.0.0.8', qemuArgs: ['-object', 'rng-random,id=r,filename=/dev/urandom'] },
      },
    },
    { root: '/p', fileExists: () => true },
  )
  expect(Object.fromEntries(plan.guests.map((guest) => [guest.name, memoryFileFits(guest)]))).toEqual({ plain: true, q35: true, arm: true, board: false, numa: false, backend: false, rng: true })
})

test("a lab that resets its guests keeps their whole state, under a key of its own; any other keeps the memory as a file", async () => {
  const cache = mkdtempSync(join(tmpdir(), 'vq-snapshot-for-'))
  try {
    const plan = planLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2' } } })
    const kernel = join(cache, 'kernel')
    writeFileSync(kernel, 'kernel')
    const launch = { accel: 'tcg' as const, network: 'namespace' as const, kernel, serialSocket: '/s', qmpSocket: '/q', saved: true }
    const plain = await snapshotFor(plan.guests[0]!, launch, 'initramfs', cache)
    const resettable = await snapshotFor(plan.guests[0]!, launch, 'initramfs', cache, true)
    expect(plain.setup).toMatchObject({ ram: true, restore: false })
    expect(resettable.setup).toMatchObject({ ram: false, restore: false })
    expect(resettable.setup.key).not.toBe(plain.setup.key)
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
})

test('the first save into a cache brings a one-line note on where snapshots go and how to turn them off; later saves none', () => {
  const cache = mkdtempSync(join(tmpdir(), 'vq-note-'))
  try {
    expect(firstSaveNote(cache, 4096 * 2 ** 20)).toMatch(/^booted guests are saved in .*snapshots so that later runs restore them .*\(64 kept, 4\.0 GiB at most\).*snapshots: false or VITEST_QEMU_SNAPSHOTS=0.*cleanup --snapshots$/)
    expect(firstSaveNote(cache, 4096 * 2 ** 20)).toBeUndefined()
    // VITEST_QEMU_SNAPSHOT_CACHE_MB's limit, as given.
    expect(firstSaveNote(join(cache, 'other'), 512 * 2 ** 20)).toContain('(64 kept, 512 MiB at most)')
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
})
