import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, test } from 'vitest'
import { attachLab, type LabConfig, type StartedLab, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'
import { cacheDir } from '../plugin/common/cache-dir.js'

// Snapshots: the first run boots its guests and saves them; later runs restore them.
// A restored guest must not be told apart from a booted one by a test: the present
// time, its own name, MAC and address, its own randomness, working SSH. A snapshot
// that is damaged, or that QEMU refuses, is replaced by a cold boot.

// The snapshot cache is the machine's: guest names of this run's own, so that another
// checkout or project running this spec at the same time neither removes, damages nor
// replaces the snapshots this one checks (a snapshot's folder is named by its guest).
const tag = randomBytes(3).toString('hex')
const snapA = `snapA${tag}`
const snapB = `snapB${tag}`
const config: LabConfig = {
  snapshots: true,
  bridges: { snapnet: { subnet: '10.55.0.0/24' } },
  guests: {
    [snapA]: { bridge: 'snapnet', ip: '10.55.0.11', mac: '52:54:00:55:00:11' },
    [snapB]: { bridge: 'snapnet', ip: '10.55.0.12', mac: '52:54:00:55:00:12' },
  },
}
const snapshotsRoot = join(cacheDir(), 'snapshots')
// On a machine that never saved a snapshot, the folder is not there yet.
const snapshotsOf = (guest: string) =>
  existsSync(snapshotsRoot) ? readdirSync(snapshotsRoot).filter((name) => name.startsWith(`${guest}-`) && !name.includes('.draft-')) : []

let running: StartedLab | undefined
async function withLab<T>(work: (lab: StartedLab) => Promise<T>): Promise<T> {
  running = await startLab(config)
  try {
    return await work(running)
  } finally {
    await running.stop()
    running = undefined
  }
}
afterAll(async () => {
  await running?.stop()
  for (const guest of [snapA, snapB]) for (const old of snapshotsOf(guest)) rmSync(join(snapshotsRoot, old), { recursive: true, force: true })
})

describe('snapshots', () => {
  test('a first run boots cold and saves each guest; the next restores them', async () => {
    for (const guest of [snapA, snapB]) for (const old of snapshotsOf(guest)) rmSync(join(snapshotsRoot, old), { recursive: true })
    const first = await withLab(async (lab) => lab.descriptor.guests.map((guest) => guest.booted))
    expect(first).toEqual(['cold', 'cold'])
    expect(snapshotsOf(snapA)).toHaveLength(1)
    expect(snapshotsOf(snapB)).toHaveLength(1)
    const second = await withLab(async (lab) => lab.descriptor.guests.map((guest) => [guest.booted, guest.bootStages.restore !== undefined]))
    expect(second).toEqual([['restored', true], ['restored', true]])
  })

  test('a restored guest has the present time, its own identity, fresh randomness and working SSH', async () => {
    // Saved by the test before, or now.
    if (snapshotsOf(snapA).length === 0 || snapshotsOf(snapB).length === 0) await withLab(async () => {})
    const randomness: string[] = []
    for (let run = 0; run < 2; run++) {
      await withLab(async (started) => {
        const lab = attachLab(started.descriptor)
        try {
          const guestA = lab.guest(snapA)
          const guestB = lab.guest(snapB)
          expect(guestA.descriptor.booted).toBe('restored')
          const guestTime = Number(await guestA.serial.exec('date +%s').then((result) => result.stdout.trim()))
          expect(Math.abs(guestTime - Date.now() / 1000)).toBeLessThan(3)
          expect(await guestA.succeed('hostname')).toBe(`${snapA}\n`)
          expect(await guestB.succeed('cat /sys/class/net/eth0/address')).toBe('52:54:00:55:00:12\n')
          expect(await guestB.succeed('ip -o -4 addr show eth0')).toContain('inet 10.55.0.12/24')
          // A fresh SSH session (the pool connects now, after the restore) and the bridge between them.
          expect((await guestA.ssh.exec('echo over-ssh')).stdout).toBe('over-ssh\n')
          await expect(guestA).toReach(guestB)
          await expect(guestB).toReach(guestA)
          // The host's entropy goes into the kernel's input pool; its generator takes it up at
          // its next reseed, which a booting kernel does every few seconds (uptime / 2).
          randomness.push(await guestA.succeed('sleep 5; head -c 16 /dev/urandom | od -An -tx1'))
        } finally {
          lab.close()
        }
      })
    }
    // Two restores of one snapshot must not replay the same random numbers.
    expect(randomness[0]).not.toBe(randomness[1])
  })

  test('a damaged snapshot is never restored: the guest boots cold and is saved again', async () => {
    const [dir] = snapshotsOf(snapA)
    const state = join(snapshotsRoot, dir!, 'state')
    const bytes = readFileSync(state)
    bytes.set(randomBytes(64), Math.floor(bytes.length / 2))
    writeFileSync(state, bytes)
    const booted = await withLab(async (lab) => Object.fromEntries(lab.descriptor.guests.map((guest) => [guest.name, guest.booted])))
    expect(booted).toEqual({ [snapA]: 'cold', [snapB]: 'restored' })
    expect(snapshotsOf(snapA)).toHaveLength(1)
    const again = await withLab(async (lab) => lab.descriptor.guests.map((guest) => guest.booted))
    expect(again).toEqual(['restored', 'restored'])
  })

  test('a snapshot QEMU refuses to load (its checksum matching) falls back to a cold boot', async () => {
    const [dir] = snapshotsOf(snapB)
    const manifestPath = join(snapshotsRoot, dir!, 'manifest.json')
    const state = join(snapshotsRoot, dir!, 'state')
    // Garbage whose manifest agrees with it: only QEMU itself can tell.
    const garbage = randomBytes(4096)
    writeFileSync(state, garbage)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    const { createHash } = await import('node:crypto')
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, stateBytes: garbage.length, stateSha256: createHash('sha256').update(garbage).digest('hex') }))
    const booted = await withLab(async (lab) => Object.fromEntries(lab.descriptor.guests.map((guest) => [guest.name, guest.booted])))
    expect(booted).toEqual({ [snapA]: 'restored', [snapB]: 'cold' })
    const again = await withLab(async (lab) => lab.descriptor.guests.map((guest) => guest.booted))
    expect(again).toEqual(['restored', 'restored'])
  })
})
