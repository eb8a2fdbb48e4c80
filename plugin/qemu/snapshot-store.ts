import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// Booted guests saved to disk, so that later runs restore them instead of booting.
// A snapshot lives in <cache>/snapshots/<guest>-<key>/: `state` (QEMU's migration
// stream) and `manifest.json` (the key and the state's size and SHA-256). The key
// covers everything that defines the guest; a snapshot whose state does not match its
// manifest is deleted, never restored.

const FORMAT = 'vitest-qemu-snapshot-1'
/** Snapshots kept per cache, least recently used removed first. */
const KEEP = 32

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
}

export function snapshotKey(parts: SnapshotKeyParts): string {
  return createHash('sha256').update(JSON.stringify({ format: FORMAT, ...parts })).digest('hex').slice(0, 24)
}

export function snapshotDir(cache: string, guest: string, key: string): string {
  return join(cache, 'snapshots', `${guest}-${key}`)
}

export function statePath(dir: string): string {
  return join(dir, 'state')
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
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
  if (checksum) return stateChecksumProblem(dir)
  return undefined
}

/** Why the snapshot's state does not match its manifest's checksum, or undefined when it does. */
export async function stateChecksumProblem(dir: string): Promise<string | undefined> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as SnapshotManifest
  if ((await sha256OfFile(statePath(dir))) !== manifest.stateSha256) return 'its state does not match its checksum'
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
    const manifest: SnapshotManifest = {
      format: FORMAT,
      key,
      guest,
      createdAt: new Date().toISOString(),
      stateBytes: (await stat(state)).size,
      stateSha256: await sha256OfFile(state),
    }
    await writeFile(join(draft, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    // Another run may have saved the same guest meanwhile: theirs stays, this one goes.
    if (!existsSync(dir)) await rename(draft, dir)
  } finally {
    await rm(draft, { recursive: true, force: true })
  }
  await pruneSnapshots(join(dir, '..'), KEEP)
}

export async function pruneSnapshots(root: string, keep: number): Promise<void> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => [])
  const all = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => ({ name: entry.name, path: join(root, entry.name), used: (await stat(join(root, entry.name))).mtimeMs })),
  )
  // A draft an hour old belongs to a run that died while saving.
  const staleDrafts = all.filter((entry) => entry.name.includes('.draft-') && entry.used < Date.now() - 3_600_000)
  const snapshots = all.filter((entry) => !entry.name.includes('.draft-')).sort((a, b) => b.used - a.used)
  for (const old of [...staleDrafts, ...snapshots.slice(keep)]) await rm(old.path, { recursive: true, force: true })
}
