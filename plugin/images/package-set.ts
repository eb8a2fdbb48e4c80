import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Arch } from '../config/config.js'
import { cacheDir } from '../common/cache-dir.js'
import { info, seconds } from '../common/log.js'
import { defaultImageKey, type DefaultImage, recipeOf } from './default-image.js'

// A guest's `packages`: Debian packages unpacked into one cpio archive that is appended to
// the default image's initramfs (the kernel unpacks concatenated archives in order). An
// appended archive boots faster than a read-only disk and needs no mount step. Built once
// per architecture, image and package set, cached beside the images, under a lock.

const PACKAGE_SET_VERSION = 5

export interface PackageSet {
  dir: string
  /** The archive to append to the image's initramfs. */
  cpio: string
  key: string
}

export function packageSetKey(arch: Arch, packages: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify({ PACKAGE_SET_VERSION, arch, image: defaultImageKey(arch), packages: [...new Set(packages)].sort() }))
    .digest('hex')
    .slice(0, 16)
}

export function packageSetPaths(arch: Arch, packages: string[], cache = cacheDir()): PackageSet {
  const key = packageSetKey(arch, packages)
  const dir = join(cache, 'packages', `${arch}-${key}`)
  return { dir, cpio: join(dir, 'packages.cpio'), key }
}

/**
 * The cached archive of `packages` for guests booting `image`, built first when missing.
 * @param guest named in errors and progress
 */
export async function ensurePackageSet(guest: string, image: DefaultImage, packages: string[], cache = cacheDir()): Promise<PackageSet> {
  const set = packageSetPaths(image.arch, packages, cache)
  if (existsSync(join(set.dir, 'manifest.json'))) {
    await writeFile(join(set.dir, 'used'), '').catch(() => {})
    return set
  }
  const recipe = recipeOf(image.arch)
  if (!recipe) throw new Error(`vitest-qemu: ${guest}: packages need a default image of ${image.arch}`)
  await mkdir(join(cache, 'packages'), { recursive: true })
  const [{ withLock }, { buildPackageSet }] = await Promise.all([import('./lock.js'), import('./package-set-build.js')])
  return withLock(`${set.dir}.lock`, async () => {
    if (existsSync(join(set.dir, 'manifest.json'))) return set
    const started = Date.now()
    info(`${guest}: adding Debian packages ${packages.join(', ')} for ${image.arch} (once; cached in ${set.dir})`)
    const work = `${set.dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
    try {
      await buildPackageSet({ guest, arch: image.arch, recipe, image, packages, work, cache })
      await rm(set.dir, { recursive: true, force: true })
      await rename(join(work, 'out'), set.dir)
    } catch (error) {
      throw new Error(`vitest-qemu: guests.${guest}.packages: ${(error as Error).message}`)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
    info(`${guest}: packages ready in ${seconds(Date.now() - started)}`)
    return set
  })
}
