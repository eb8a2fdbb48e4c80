import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Arch } from '../config/config.js'
import { cacheDir } from '../common/cache-dir.js'
import { info, seconds } from '../common/log.js'
import { agentScript, etcFiles, initStage1, initStage2 } from './guest-init.js'
import type { Recipe } from './image-build.js'

// The embedded default guest: a Debian kernel, busybox and dropbear, assembled into an
// initramfs (and the same tree as an ext4 disk for the seed's root=/dev/vda form).
// Cached by a key over the recipe, so it is rebuilt only when the recipe changes.

// Modules the guest loads at boot (those a kernel has built in are skipped): virtio for
// the NIC and the disk, ext4 and the crc32c it asks for at mount time (not a dependency
// modules.dep knows of) for the root disk form, netem for fault injection, virtio_console
// for the agent's private channel.
const modules = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng', 'virtio_console', 'crc32c_generic', 'ext4', 'sch_netem']
// busybox for the shell and tools, dropbear for SSH, iproute2's tc because busybox's knows no netem.
const packages = ['busybox-static', 'dropbear-bin', 'iproute2']
const programs = ['bin/busybox', 'usr/sbin/dropbear', 'usr/bin/dropbearkey', 'sbin/tc']

// Each architecture's Debian release: Debian 12 (bookworm) where it has a port, Debian 13
// (trixie) for riscv64, which Debian 12 lacks. Debian has no riscv64 cloud kernel flavour.
const recipes: Partial<Record<Arch, Recipe>> = {
  x86_64: { release: 'bookworm', kernelPackage: 'linux-image-cloud-amd64', packages, programs, modules, pvh: true },
  i386: { release: 'bookworm', kernelPackage: 'linux-image-686', packages, programs, modules },
  aarch64: { release: 'bookworm', kernelPackage: 'linux-image-cloud-arm64', packages, programs, modules },
  arm: { release: 'bookworm', kernelPackage: 'linux-image-armmp', packages, programs, modules },
  riscv64: { release: 'trixie', kernelPackage: 'linux-image-riscv64', packages, programs, modules },
}

/**
 * VITEST_QEMU_DEBIAN_RELEASE builds (and boots) every default image from that Debian
 * release instead of its architecture's own, e.g. to compare trixie with bookworm; the
 * image cache keeps one build per release.
 */
export function recipeOf(arch: Arch): Recipe | undefined {
  const recipe = recipes[arch]
  const release = process.env.VITEST_QEMU_DEBIAN_RELEASE
  return recipe && release ? { ...recipe, release } : recipe
}

/** Why an architecture has no default image, and what to do instead. */
export function noDefaultImageReason(arch: Arch): string {
  return `${arch}: there is no default image; give the guest a kernel (and initrd or rootfs)`
}

const RECIPE_VERSION = 2

/** Room a build needs in the cache: the package lists, the .deb files, their unpacked trees, the image. */
const BUILD_SPACE_BYTES = 512 * 2 ** 20

export interface DefaultImage {
  arch: Arch
  dir: string
  /** What QEMU boots: `vmlinux` (the uncompressed kernel, booted through PVH) where there is one, else `vmlinuz`. */
  kernel: string
  /** The initramfs (uncompressed newc cpio); a guest's own files are appended per run. */
  initrd: string
  /** The same tree as a raw ext4 disk, for booting with root=/dev/vda. */
  rootfs: string
}

export function defaultImageKey(arch: Arch): string {
  const recipe = recipeOf(arch)
  return createHash('sha256')
    .update(JSON.stringify({ RECIPE_VERSION, arch, recipe, initStage1, initStage2, agentScript, etcFiles }))
    .digest('hex')
    .slice(0, 16)
}

export function defaultImagePaths(arch: Arch, cache = cacheDir()): DefaultImage {
  const dir = join(cache, 'images', `${arch}-${defaultImageKey(arch)}`)
  const pvhKernel = join(dir, 'vmlinux')
  const kernel = existsSync(pvhKernel) ? pvhKernel : join(dir, 'vmlinuz')
  return { arch, dir, kernel, initrd: join(dir, 'initrd.cpio'), rootfs: join(dir, 'rootfs.ext4') }
}

export function hasDefaultImage(arch: Arch): boolean {
  return recipeOf(arch) !== undefined
}

/** Returns the cached default image of `arch`, building it first when missing. */
export async function ensureDefaultImage(arch: Arch, cache = cacheDir()): Promise<DefaultImage> {
  const image = defaultImagePaths(arch, cache)
  if (existsSync(join(image.dir, 'manifest.json'))) {
    await markUsed(image)
    return image
  }
  const recipe = recipeOf(arch)
  if (!recipe) throw new Error(`vitest-qemu: ${noDefaultImageReason(arch)}`)
  await mkdir(dirname(image.dir), { recursive: true })
  // A build on a full disk would leave apt retrying for ever: it does not start without room.
  const { bavail, bsize } = await statfs(dirname(image.dir))
  if (bavail * bsize < BUILD_SPACE_BYTES) {
    throw new Error(
      `vitest-qemu: no space left on the device holding ${image.dir} (the cache folder ${cache}; VITEST_QEMU_CACHE chooses another): ` +
        `${Math.floor((bavail * bsize) / 2 ** 20)} MiB free, building an image needs ${BUILD_SPACE_BYTES / 2 ** 20} MiB`,
    )
  }
  // What builds an image loads only when one is built, not on every run that finds it cached.
  const [{ withLock }, { buildImage }] = await Promise.all([import('./lock.js'), import('./image-build.js')])
  return withLock(`${image.dir}.lock`, async () => {
    try {
      return await buildLocked(recipe)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC' && !/ENOSPC|No space left/.test((error as Error).message)) throw error
      throw new Error(`vitest-qemu: no space left on the device holding ${image.dir} (the cache folder ${cache}; VITEST_QEMU_CACHE chooses another): ${(error as Error).message}`)
    }
  })
  async function buildLocked(recipe: Recipe): Promise<DefaultImage> {
    if (existsSync(join(image.dir, 'manifest.json'))) return image
    const started = Date.now()
    info(`building the default ${arch} guest image (once; cached in ${image.dir})`)
    const work = `${image.dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
    try {
      await buildImage(arch, recipe, defaultImageKey(arch), work, cache)
      await rm(image.dir, { recursive: true, force: true })
      await rename(join(work, 'out'), image.dir)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
    info(`built the default ${arch} guest image in ${seconds(Date.now() - started)}`)
    await markUsed(image)
    await pruneOtherBuilds(image)
    return image
  }
}

/** Builds of other versions of an image are removed once unused this long: another project (or checkout) on the machine may still boot them. */
const UNUSED_BUILD_MS = 7 * 24 * 3600_000

/** Notes that a run uses this build (its `used` file's time), for the pruning of builds nobody uses. */
async function markUsed(image: DefaultImage): Promise<void> {
  await writeFile(join(image.dir, 'used'), '').catch(() => {})
}

async function lastUsed(dir: string): Promise<number> {
  const times = await Promise.all(['used', 'manifest.json'].map((name) => stat(join(dir, name)).then((info) => info.mtimeMs, () => 0)))
  return Math.max(...times)
}

async function pruneOtherBuilds(image: DefaultImage): Promise<void> {
  const parent = dirname(image.dir)
  for (const name of await readdir(parent)) {
    const dir = join(parent, name)
    if (!name.startsWith(`${image.arch}-`) || !/^[a-z0-9_]+-[0-9a-f]{16}$/.test(name) || dir === image.dir) continue
    if (Date.now() - (await lastUsed(dir)) > UNUSED_BUILD_MS) await rm(dir, { recursive: true, force: true })
  }
}
