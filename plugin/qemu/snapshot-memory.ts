import { existsSync } from 'node:fs'
import { readFile, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomically } from '../common/write-atomically.js'

// A snapshot's memory image: its guest's RAM as a file (`memory`) and the rest of its state
// (`devices`, saved with QEMU's `x-ignore-shared`, so without the RAM), made from the
// snapshot's `state` after it was saved (memory-image-maker.ts). A restore from it maps the
// file as the guest's RAM, privately: QEMU reads 0.5 MB instead of writing 60 MB into new
// memory, and the guest reads a page from the page cache when it first touches it. Restoring
// `state` that way took 0.35 s and 0.3 s of CPU per guest on a machine whose free memory the
// host had taken back, the memory image 0.15 s and 0.12 s (measured by hand, QEMU 7.2).
// `memory.json`, written last, says the image is whole; a snapshot without one restores from
// `state` as before.

const FORMAT = 'vitest-qemu-memory-image-1'

export interface MemoryImageManifest {
  format: string
  /** The snapshot's state it was made from: an image never pairs with another state. */
  stateSha256: string
  memoryBytes: number
  memorySha256: string
  devicesBytes: number
  devicesSha256: string
}

export function memoryImagePaths(dir: string): { memory: string; devices: string; manifest: string } {
  return { memory: join(dir, 'memory'), devices: join(dir, 'devices'), manifest: join(dir, 'memory.json') }
}

async function manifestOf(dir: string): Promise<MemoryImageManifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(memoryImagePaths(dir).manifest, 'utf8')) as MemoryImageManifest
    return manifest.format === FORMAT ? manifest : undefined
  } catch {
    return undefined
  }
}

/** Whether the snapshot in `dir` (whose state has `stateSha256`) has a whole memory image; its checksums are `memoryImageChecksumProblem`'s. */
export async function hasMemoryImage(dir: string, stateSha256: string): Promise<boolean> {
  const manifest = await manifestOf(dir)
  if (!manifest || manifest.stateSha256 !== stateSha256) return false
  const { memory, devices } = memoryImagePaths(dir)
  const sizes = await Promise.all([memory, devices].map((path) => stat(path).then((info) => info.size, () => -1)))
  return sizes[0] === manifest.memoryBytes && sizes[1] === manifest.devicesBytes
}

/** Why the memory image does not match its manifest's checksums, or undefined when it does. */
export async function memoryImageChecksumProblem(dir: string, sha256: (path: string) => Promise<string>): Promise<string | undefined> {
  const manifest = await manifestOf(dir)
  if (!manifest) return 'its memory image has no manifest'
  const { memory, devices } = memoryImagePaths(dir)
  const [memoryHash, devicesHash] = await Promise.all([sha256(memory), sha256(devices)])
  if (memoryHash !== manifest.memorySha256 || devicesHash !== manifest.devicesSha256) return 'its memory image does not match its checksums'
  return undefined
}

/** Drafts of a memory image in the making: `memory.draft-ID` and `devices.draft-ID`. */
export function memoryImageDrafts(dir: string, id: string): { memory: string; devices: string } {
  return { memory: join(dir, `memory.draft-${id}`), devices: join(dir, `devices.draft-${id}`) }
}

/** Removes drafts left by a run that died while making an image (an hour old), or all of this snapshot's. */
export async function removeMemoryImageDrafts(dir: string, olderThanMs = 3_600_000): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names.filter((name) => /^(memory|devices)\.draft-/.test(name))) {
    const path = join(dir, name)
    const old = await stat(path).then((info) => info.mtimeMs < Date.now() - olderThanMs, () => false)
    if (old) await rm(path, { force: true })
  }
}

/** Writes the manifest that makes the image whole, once its files are in place. */
export async function commitMemoryImage(dir: string, manifest: Omit<MemoryImageManifest, 'format'>): Promise<void> {
  if (!existsSync(dir)) throw new Error(`the snapshot ${dir} is gone`)
  await writeFileAtomically(memoryImagePaths(dir).manifest, `${JSON.stringify({ format: FORMAT, ...manifest }, null, 2)}\n`)
}
