import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rememberFileHash, sha256OfFile } from './file-hash-memo.js'

// Booted guests saved to disk, so that later runs restore them instead of booting.
// A snapshot lives in <cache>/snapshots/<guest>-<key>/: `state` (QEMU's migration
// stream), `ram` (the guest's memory, a sparse file, where the guest's machine takes its
// memory from a file: the state then leaves it out, see qemu-args.ts) and `manifest.json`
// (the key, and each file's size and SHA-256). The key covers everything that defines
// the guest; a snapshot whose files do not match its manifest is deleted, never restored.

const FORMAT = 'vitest-qemu-snapshot-2'
/**
 * Snapshots kept per cache, least recently used removed first: a 16-guest lab used both
 * in watch mode and in single runs keeps two per guest (watch mode's hold the whole state),
 * and at about 60 MB each 64 stay within the default size limit.
 */
export const SNAPSHOTS_KEPT = 64
/** Their total size, unless VITEST_QEMU_SNAPSHOT_CACHE_MB says otherwise. */
const DEFAULT_CACHE_MB = 4096

/** The snapshots' total size limit in bytes: `VITEST_QEMU_SNAPSHOT_CACHE_MB` (a whole number of MiB), else 4 GiB. */
export function snapshotCacheLimit(env = process.env.VITEST_QEMU_SNAPSHOT_CACHE_MB): number {
  if (env === undefined || env.trim() === '') return DEFAULT_CACHE_MB * 2 ** 20
  const mb = Number(env)
  if (!Number.isInteger(mb) || mb < 0) throw new Error(`vitest-qemu: VITEST_QEMU_SNAPSHOT_CACHE_MB must be a whole number of MiB, got ${JSON.stringify(env)}`)
  return mb * 2 ** 20
}

export interface SnapshotKeyParts {
  qemuVersion: string
  /** QEMU's arguments with the run's own paths replaced by placeholders. */
  args: string[]
  /** SHA-256 of each file the guest boots from (kernel, initramfs, dtb). */
  fileHashes: Record<string, string>
  /** Anything else that changes what the booted guest is (console, login). */
  extra: unknown
}

export interface SnapshotManifest {
  format: string
  key: string
  guest: string
  createdAt: string
  stateBytes: number
  stateSha256: string
  /** The memory file's, when the snapshot has one. */
  ramBytes?: number
  ramSha256?: string
}

export function snapshotKey(parts: SnapshotKeyParts): string {
  return createHash('sha256').update(JSON.stringify({ format: FORMAT, ...parts })).digest('hex').slice(0, 24)
}

export function snapshotDir(cache: string, guest: string, key: string): string {
  return join(cache, 'snapshots', `${guest}-${key}`)
}

/** The cache a snapshot's folder is in: snapshotDir's inverse. */
function cacheOfSnapshot(dir: string): string {
  return join(dir, '..', '..')
}

export function statePath(dir: string): string {
  return join(dir, 'state')
}

export function ramPath(dir: string): string {
  return join(dir, 'ram')
}

export type SnapshotLookup = { status: 'valid' } | { status: 'missing' } | { status: 'invalid'; reason: string }

/**
 * Whether `dir` holds a snapshot that may be restored; an invalid one is deleted.
 * `checksum: false` leaves the state's checksum to `stateChecksumProblem`, for a caller
 * that checks it while QEMU loads the state (and lets the guest run only if it matches).
 */
export async function findSnapshot(dir: string, key: string, options: { checksum?: boolean } = {}): Promise<SnapshotLookup> {
  if (!existsSync(dir)) return { status: 'missing' }
  const reason = await invalidity(dir, key, options.checksum ?? true)
  if (reason === undefined) {
    // Recently used snapshots are the ones pruning keeps.
    const now = new Date()
    await utimes(dir, now, now).catch(() => {})
    return { status: 'valid' }
  }
  await rm(dir, { recursive: true, force: true })
  return { status: 'invalid', reason }
}

async function invalidity(dir: string, key: string, checksum: boolean): Promise<string | undefined> {
  let manifest: SnapshotManifest
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as SnapshotManifest
  } catch (error) {
    return `its manifest is unreadable (${(error as Error).message})`
  }
  if (manifest.format !== FORMAT || manifest.key !== key) return 'its manifest belongs to another guest definition'
  const size = await stat(statePath(dir)).then((info) => info.size, () => -1)
  if (size !== manifest.stateBytes) return `its state has ${size < 0 ? 'gone' : `${size} bytes, expected ${manifest.stateBytes}`}`
  const ramSize = await stat(ramPath(dir)).then((info) => info.size, () => -1)
  if (manifest.ramBytes === undefined ? ramSize >= 0 : ramSize !== manifest.ramBytes) {
    return `its memory file has ${ramSize < 0 ? 'gone' : `${ramSize} bytes, expected ${manifest.ramBytes ?? 'none'}`}`
  }
  if (checksum) return stateChecksumProblem(dir)
  return undefined
}

/**
 * Why the snapshot's state or memory file does not match its manifest's checksum, or undefined when they do.
 * @param sha256 how a file's SHA-256 is had (a caller may remember it while the file is unchanged)
 */
export async function stateChecksumProblem(dir: string, sha256: (path: string) => Promise<string> = sha256OfFile): Promise<string | undefined> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as SnapshotManifest
  const [state, ram] = await Promise.all([sha256(statePath(dir)), manifest.ramSha256 === undefined ? undefined : sha256(ramPath(dir))])
  if (state !== manifest.stateSha256) return 'its state does not match its checksum'
  if (ram !== manifest.ramSha256) return 'its memory file does not match its checksum'
  return undefined
}

/** A folder next to the final one to write a new snapshot into; `commitSnapshot` moves it in place. */
export async function newSnapshotDraft(dir: string): Promise<string> {
  const draft = `${dir}.draft-${process.pid}-${Date.now()}`
  await mkdir(draft, { recursive: true })
  return draft
}

export async function commitSnapshot(draft: string, dir: string, guest: string, key: string): Promise<void> {
  try {
    const state = statePath(draft)
    const ram = existsSync(ramPath(draft)) ? ramPath(draft) : undefined
    const [stateSha256, ramSha256] = await Promise.all([sha256OfFile(state), ram && sha256OfFile(ram)])
    const manifest: SnapshotManifest = {
      format: FORMAT,
      key,
      guest,
      createdAt: new Date().toISOString(),
      stateBytes: (await stat(state)).size,
      stateSha256,
      ...(ram && { ramBytes: (await stat(ram)).size, ramSha256 }),
    }
    await writeFile(join(draft, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    // Another run may have saved the same guest meanwhile: theirs stays, this one goes.
    if (!existsSync(dir)) {
      await rename(draft, dir)
      // Hashed just now: the first restore checks the files against the memo instead of hashing them again.
      await rememberFileHash(statePath(dir), cacheOfSnapshot(dir), manifest.stateSha256).catch(() => {})
      if (manifest.ramSha256) await rememberFileHash(ramPath(dir), cacheOfSnapshot(dir), manifest.ramSha256).catch(() => {})
    }
  } finally {
    await rm(draft, { recursive: true, force: true })
  }
  await pruneSnapshots(join(dir, '..'), SNAPSHOTS_KEPT, snapshotCacheLimit())
}

interface StoredSnapshot {
  name: string
  path: string
  /** Last restored or saved (the folder's mtime). */
  used: number
  bytes: number
}

async function storedSnapshots(root: string): Promise<StoredSnapshot[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => [])
  const found = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => {
        const path = join(root, entry.name)
        // A folder removed meanwhile (another run pruning) is simply not there.
        const used = await stat(path).then((info) => info.mtimeMs, () => undefined)
        // The memory file is sparse: what it takes on disk is its blocks, not its size.
        const [state, ram] = await Promise.all([statePath(path), ramPath(path)].map((file) => stat(file).then((info) => Math.min(info.size, info.blocks * 512), () => 0)))
        const bytes = state! + ram!
        return used === undefined ? undefined : { name: entry.name, path, used, bytes }
      }),
  )
  return found.filter((entry): entry is StoredSnapshot => entry !== undefined)
}

/** Keeps the `keep` most recently used snapshots that fit in `maxBytes` together; removes the rest and stale drafts. */
export async function pruneSnapshots(root: string, keep: number, maxBytes = Number.POSITIVE_INFINITY): Promise<void> {
  const all = await storedSnapshots(root)
  // A draft an hour old belongs to a run that died while saving.
  const staleDrafts = all.filter((entry) => entry.name.includes('.draft-') && entry.used < Date.now() - 3_600_000)
  const snapshots = all.filter((entry) => !entry.name.includes('.draft-')).sort((a, b) => b.used - a.used)
  let total = 0
  const evicted = snapshots.filter((entry, index) => {
    total += entry.bytes
    return index >= keep || total > maxBytes
  })
  for (const old of [...staleDrafts, ...evicted]) await rm(old.path, { recursive: true, force: true })
}

/** Removes every snapshot of the cache (`vitest-qemu cleanup --snapshots`); a run restoring one meanwhile keeps its open state and boots cold at its next reset. */
export async function removeAllSnapshots(cache: string): Promise<{ count: number; bytes: number }> {
  const all = await storedSnapshots(join(cache, 'snapshots'))
  for (const entry of all) await rm(entry.path, { recursive: true, force: true })
  return { count: all.filter((entry) => !entry.name.includes('.draft-')).length, bytes: all.reduce((sum, entry) => sum + entry.bytes, 0) }
}
