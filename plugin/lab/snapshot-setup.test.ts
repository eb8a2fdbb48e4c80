import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { firstSaveNote, memoryFileFits, snapshotIneligibility, snapshotsEnabled } from './snapshot-setup.js'

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

test("a snapshot keeps the guest's memory as a file of its own on the default images' machines, unless the guest's own arguments touch its memory or machine, or the lab resets its guests", () => {
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
  // A lab that resets its guests keeps their whole state.
  expect(plan.guests.filter((guest) => memoryFileFits(guest, true))).toEqual([])
})

test('the first save into a cache brings a one-line note on where snapshots go and how to turn them off; later saves none', () => {
  const cache = mkdtempSync(join(tmpdir(), 'vq-note-'))
  try {
    expect(firstSaveNote(cache)).toMatch(/^booted guests are saved in .*snapshots so that later runs restore them .*snapshots: false or VITEST_QEMU_SNAPSHOTS=0.*cleanup --snapshots$/)
    expect(firstSaveNote(cache)).toBeUndefined()
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
})
