import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCommand } from '../common/run-command.js'
import { which } from '../common/which.js'
import type { GuestPlan } from '../config/lab-plan.js'
import { type QemuLaunch, qemuCommand } from '../qemu/qemu-args.js'
import { fileFact, fileHash } from '../qemu/file-hash-memo.js'
import { guestFileEntries } from './guest-overlay.js'
import { writeCpio } from '../images/cpio.js'
import { formatBytes } from '../common/format-bytes.js'
import { findSnapshot, SNAPSHOTS_KEPT, snapshotDir, snapshotKey } from '../qemu/snapshot-store.js'
import type { GuestSnapshotSetup } from '../protocol/supervisor-protocol.js'

// Decides, per guest, whether a run restores a snapshot or saves one: computes the key
// from everything that defines the booted guest and looks the snapshot up.

/** Whether snapshots are on: `VITEST_QEMU_SNAPSHOTS` (0/1) wins over the config. */
export function snapshotsEnabled(configured: boolean, env = process.env.VITEST_QEMU_SNAPSHOTS): boolean {
  if (env === undefined || env === '') return configured
  return !['0', 'false', 'off', 'no'].includes(env.toLowerCase())
}

/**
 * The one-line note of the first save into this cache (snapshots are on unless turned off,
 * so a user learns once where they go, how many are kept and how to turn them off);
 * undefined afterwards. `limitBytes`: the cache's size limit (snapshotCacheLimit).
 */
export function firstSaveNote(cache: string, limitBytes: number): string | undefined {
  const marker = join(cache, 'snapshots', '.first-save-noted')
  if (existsSync(marker)) return undefined
  try {
    mkdirSync(join(cache, 'snapshots'), { recursive: true })
    writeFileSync(marker, `${new Date().toISOString()}\n`)
  } catch {
    // A cache we cannot write to will be told about by the save itself.
  }
  return `booted guests are saved in ${join(cache, 'snapshots')} so that later runs restore them instead of booting (${SNAPSHOTS_KEPT} kept, ${formatBytes(limitBytes)} at most); turn this off with snapshots: false or VITEST_QEMU_SNAPSHOTS=0, remove them with npx vitest-qemu cleanup --snapshots`
}

/** Why a guest cannot be snapshotted, or undefined. A disk's state would not match a restored memory. */
export function snapshotIneligibility(guest: GuestPlan): string | undefined {
  if (guest.rootfs) return 'it has a root disk'
  if (guest.qemuArgs.some((arg) => /^-(drive|blockdev|hd[a-d]|cdrom|sd|mtdblock|pflash|virtfs|fsdev)$/.test(arg))) return 'its qemuArgs attach storage'
  return undefined
}

/**
 * Whether the guest's memory can be a file of its own, saved beside its state (qemu-args.ts):
 * on the machines the default images use, which take their memory from a backend, unless
 * the guest's own QEMU arguments say something about its memory or machine.
 */
export function memoryFileFits(guest: GuestPlan): boolean {
  if (!/^(pc|q35|virt)(-[\w.-]+)?$/.test(guest.machine.split(',')[0]!)) return false
  return !guest.qemuArgs.some((arg) => /^-(m|M|machine|mem-path|mem-prealloc|numa)$/.test(arg) || arg.includes('memory-backend'))
}

export interface SnapshotLookupResult {
  setup: GuestSnapshotSetup
  /** Set when a snapshot existed but was not valid (it was deleted). */
  discarded?: string
}

/**
 * @param initrdIdentity what the default image's initramfs is made of; user initramfs files are hashed.
 * @param resettable the lab resets its guests (watch mode, per-file and per-test isolation).
 */
export async function snapshotFor(guest: GuestPlan, launch: QemuLaunch, initrdIdentity: string | undefined, cache: string, resettable = false): Promise<SnapshotLookupResult> {
  // A reset loads the memory anew, and into memory mapped copy-on-write from a file that
  // first copies every page, one small page at a time: six per-test resets of two guests took
  // 4.3 s against 3.6 s with QEMU's usual memory. A lab that resets its guests keeps their
  // whole state in the stream, under a key of its own (the memory file is part of the key).
  const ram = !resettable && memoryFileFits(guest)
  const placeholders: QemuLaunch = { ...launch, kernel: '<kernel>', initrd: launch.initrd && '<initrd>', serialSocket: '<serial>', qmpSocket: '<qmp>', agent: launch.agent && { commandSocket: '<agent>', controlSocket: '<agent-control>' }, incoming: undefined, vmstate: undefined, ram: ram ? { path: '<ram>', shared: false } : undefined }
  const { binary, args } = qemuCommand(guest, placeholders)
  const fileHashes: Record<string, string> = { kernel: await fileHash(launch.kernel, cache) }
  if (initrdIdentity) fileHashes.initrd = createHash('sha256').update(initrdIdentity).digest('hex')
  else if (launch.initrd) fileHashes.initrd = await fileHash(launch.initrd, cache)
  if (guest.dtb) fileHashes.dtb = await fileHash(guest.dtb, cache)
  const key = snapshotKey({
    qemuVersion: await qemuVersion(binary, cache),
    args,
    fileHashes,
    extra: { console: guest.console, login: guest.login ?? null, defaultImage: guest.defaultImage, consoleConfiguration: consoleConfigurationIdentity(guest) },
  })
  const dir = snapshotDir(cache, guest.name, key)
  // The state's checksum is checked by the supervisor while QEMU loads it (see supervisor.ts).
  const found = await findSnapshot(dir, key, { checksum: false })
  return {
    setup: { key, dir, restore: found.status === 'valid', ram },
    discarded: found.status === 'invalid' ? found.reason : undefined,
  }
}

const versions = new Map<string, Promise<string>>()
/** The first line of `binary --version`, remembered while the binary stays the same file (running it takes 50-100 ms). */
function qemuVersion(binary: string, cache: string): Promise<string> {
  let version = versions.get(binary)
  if (!version) {
    const askIt = () => runCommand(binary, ['--version'], { timeout: 10_000 }).then((result) => result.stdout.split('\n')[0]!.trim())
    const path = which(binary)
    version = path ? fileFact(path, cache, 'version', askIt) : askIt()
    versions.set(binary, version)
  }
  return version
}

/**
 * What an own image is given over its console after boot (console-configuration.ts), which
 * its saved state holds: a change to any of it (a file's content included) makes a new key.
 */
function consoleConfigurationIdentity(guest: GuestPlan): string | null {
  if (guest.defaultImage || !guest.configureOverConsole) return null
  const { nics, routes, forwarding, setup, services } = guest
  return createHash('sha256')
    .update(JSON.stringify({ nics: nics.map((nic) => [`${nic.ip}/${nic.prefix}`, nic.ip6, nic.mtu, nic.netem]), routes, forwarding, setup, services }))
    .update(writeCpio(guestFileEntries(guest.files)))
    .digest('hex')
}
