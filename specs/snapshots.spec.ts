import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
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
const bootMarker = '/run/boot-marker'
const config: LabConfig = {
  snapshots: true,
  bridges: { snapnet: { subnet: '10.55.0.0/24' } },
  guests: {
    // A value of this boot's own, made before the snapshot is saved: a restore brings back
    // the saved one, a cold boot makes another.
    [snapA]: { bridge: 'snapnet', ip: '10.55.0.11', mac: '52:54:00:55:00:11', setup: [`cat /proc/sys/kernel/random/uuid > ${bootMarker}`] },
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

/** Makes sure both guests have a snapshot (saved now by a cold run when one is missing), so no test depends on the one before. */
async function ensureSnapshots(): Promise<void> {
  if (snapshotsOf(snapA).length === 1 && snapshotsOf(snapB).length === 1) return
  const booted = await withLab(async (lab) => lab.descriptor.guests.map((guest) => guest.booted))
  expect(booted, 'the run that saves the snapshots').not.toContain('restored')
  expect(snapshotsOf(snapA)).toHaveLength(1)
  expect(snapshotsOf(snapB)).toHaveLength(1)
}

/** When the snapshot of `guest` was saved (its manifest is written last). */
const savedAt = (guest: string) => statSync(join(snapshotsRoot, snapshotsOf(guest)[0]!, 'manifest.json')).mtimeMs

/** What the lab ran in a guest to bring it to the present after a restore (noted in its console's transcript): the entropy it stirred in. */
function entropyWritten(logDir: string, guest: string): string[] {
  const transcript = readFileSync(join(logDir, `${guest}.console.log`), 'utf8')
  return [...transcript.matchAll(/\[vitest-qemu (?:typed|through the agent)\] date -s @\d+ >\/dev\/null && echo ([0-9a-f]+) > \/dev\/urandom/g)].map((match) => match[1]!)
}

test('a snapshot size limit that is no number is refused before anything is made, naming the variable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vq-snapshot-limit-'))
  process.env.VITEST_QEMU_SNAPSHOT_CACHE_MB = 'lots'
  try {
    // A lab that comes up all the same is stopped, not left behind by the failing check.
    const outcome = await startLab(config, { root }).then(async (lab) => lab.stop(), (error: Error) => error)
    expect(outcome).toBeInstanceOf(Error)
    expect((outcome as Error).message).toContain('VITEST_QEMU_SNAPSHOT_CACHE_MB must be a whole number of MiB, got "lots"')
    // Not even the run's log folder.
    expect(readdirSync(root)).toEqual([])
  } finally {
    delete process.env.VITEST_QEMU_SNAPSHOT_CACHE_MB
    rmSync(root, { recursive: true, force: true })
  }
})

describe('snapshots', () => {
  test('a first run boots cold and saves each guest; the next restores that very state, not what came after it', async () => {
    for (const guest of [snapA, snapB]) for (const old of snapshotsOf(guest)) rmSync(join(snapshotsRoot, old), { recursive: true })
    const marker = randomBytes(8).toString('hex')
    const first = await withLab(async (started) => {
      const lab = attachLab(started.descriptor)
      try {
        // Written after the snapshot was saved: a restore must not bring it back.
        await lab.guest(snapA).succeed(`echo ${marker} > /run/after-save`)
        return { booted: started.descriptor.guests.map((guest) => guest.booted), bootMarker: await lab.guest(snapA).succeed(`cat ${bootMarker}`) }
      } finally {
        lab.close()
      }
    })
    expect(first.booted).toEqual(['cold', 'cold'])
    expect(snapshotsOf(snapA)).toHaveLength(1)
    expect(snapshotsOf(snapB)).toHaveLength(1)
    const second = await withLab(async (started) => {
      const lab = attachLab(started.descriptor)
      try {
        return {
          booted: started.descriptor.guests.map((guest) => [guest.booted, guest.bootStages.restore !== undefined]),
          bootMarker: await lab.guest(snapA).succeed(`cat ${bootMarker}`),
          afterSave: await lab.guest(snapA).run('cat /run/after-save'),
          // Into memory mapped from the snapshot's memory file: the file must not change.
          written: await lab.guest(snapA).succeed(`echo ${marker} > /run/after-restore`),
        }
      } finally {
        lab.close()
      }
    })
    expect(second.booted).toEqual([['restored', true], ['restored', true]])
    expect(first.bootMarker).toMatch(/^[0-9a-f-]{36}\n$/)
    expect(second.bootMarker).toBe(first.bootMarker)
    expect(second.afterSave.exitCode).not.toBe(0)
    expect(second.afterSave.stdout).not.toContain(marker)
    const third = await withLab(async (started) => {
      const lab = attachLab(started.descriptor)
      try {
        return { booted: started.descriptor.guests.map((guest) => guest.booted), afterRestore: await lab.guest(snapA).run('cat /run/after-restore') }
      } finally {
        lab.close()
      }
    })
    expect(third.booted).toEqual(['restored', 'restored'])
    expect(third.afterRestore.exitCode).not.toBe(0)
    expect(third.afterRestore.stdout).not.toContain(marker)
  })

  test('a restored guest has the present time, its own identity, fresh randomness and working SSH', async () => {
    await ensureSnapshots()
    // Restore well after the save, so a clock left at the saved time would show.
    const wait = savedAt(snapA) + 8000 - Date.now()
    if (wait > 0) await sleep(wait)
    const runs: { randomness: string; bootMarker: string; entropy: string[]; markerBefore: string }[] = []
    for (let run = 0; run < 2; run++) {
      const marker = `restore-${run}-${randomBytes(4).toString('hex')}`
      const { logDir, result } = await withLab(async (started) => {
        const lab = attachLab(started.descriptor)
        try {
          const guestA = lab.guest(snapA)
          const guestB = lab.guest(snapB)
          expect(guestA.descriptor.booted).toBe('restored')
          expect(guestB.descriptor.booted).toBe('restored')
          const guestTime = Number(await guestA.serial.exec('date +%s').then((result) => result.stdout.trim()))
          expect(Math.abs(guestTime - Date.now() / 1000)).toBeLessThan(3)
          expect(await guestA.succeed('hostname')).toBe(`${snapA}\n`)
          expect(await guestB.succeed('cat /sys/class/net/eth0/address')).toBe('52:54:00:55:00:12\n')
          expect(await guestB.succeed('ip -o -4 addr show eth0')).toContain('inet 10.55.0.12/24')
          // A fresh SSH session (the pool connects now, after the restore) and the bridge between them.
          expect((await guestA.ssh.exec('echo over-ssh')).stdout).toBe('over-ssh\n')
          await expect(guestA).toReach(guestB)
          await expect(guestB).toReach(guestA)
          // What the run before left in the guest: nothing, since both came from one snapshot.
          const markerBefore = (await guestA.run('cat /run/restore-marker')).stdout
          await guestA.succeed(`echo ${marker} > /run/restore-marker`)
          // The host's entropy goes into the kernel's input pool; its generator takes it up at
          // its next reseed, which a booting kernel does every few seconds (uptime / 2).
          const randomness = await guestA.succeed('sleep 5; head -c 16 /dev/urandom | od -An -tx1')
          return { logDir: started.descriptor.logDir, result: { randomness, markerBefore, bootMarker: await guestA.succeed(`cat ${bootMarker}`) } }
        } finally {
          lab.close()
        }
      })
      runs.push({ ...result, entropy: entropyWritten(logDir, snapA) })
    }
    // Both runs are the one saved state, not a guest kept or saved again in between.
    expect(runs[0]!.bootMarker).toMatch(/^[0-9a-f-]{36}\n$/)
    expect(runs[1]!.bootMarker).toBe(runs[0]!.bootMarker)
    expect(runs[1]!.markerBefore).not.toMatch(/restore-0-/)
    // Each restore stirred fresh entropy of its own into the guest (64 bytes, written once).
    for (const run of runs) expect(run.entropy).toEqual([expect.stringMatching(/^[0-9a-f]{128}$/)])
    expect(runs[1]!.entropy[0]).not.toBe(runs[0]!.entropy[0])
    // Two restores of one snapshot must not replay the same random numbers.
    expect(runs[0]!.randomness).not.toBe(runs[1]!.randomness)
  })

  test('a damaged snapshot (its state or its memory file) is never restored: the guest boots cold and is saved again', async () => {
    await ensureSnapshots()
    const damage = (guest: string, file: string) => {
      const path = join(snapshotsRoot, snapshotsOf(guest)[0]!, file)
      const bytes = readFileSync(path)
      bytes.set(randomBytes(64), Math.floor(bytes.length / 2))
      writeFileSync(path, bytes)
    }
    damage(snapA, 'state')
    damage(snapB, 'ram')
    const booted = await withLab(async (lab) => Object.fromEntries(lab.descriptor.guests.map((guest) => [guest.name, guest.booted])))
    expect(booted).toEqual({ [snapA]: 'cold', [snapB]: 'cold' })
    expect(snapshotsOf(snapA)).toHaveLength(1)
    expect(snapshotsOf(snapB)).toHaveLength(1)
    const again = await withLab(async (lab) => lab.descriptor.guests.map((guest) => guest.booted))
    expect(again).toEqual(['restored', 'restored'])
  })

  test('a snapshot QEMU refuses to load (its checksum matching) falls back to a cold boot', async () => {
    await ensureSnapshots()
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
