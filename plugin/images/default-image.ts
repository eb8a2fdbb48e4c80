import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, cp, lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { execa } from './lazy-execa.js'
import { archProfiles } from '../config/arch.js'
import type { Arch } from '../config/config.js'
import { cacheDir } from '../common/cache-dir.js'
import { info, seconds } from '../common/log.js'
import { type CpioEntry, writeCpio } from './cpio.js'
import { PrivateApt } from './debian-packages.js'
import { etcFiles, initStage1, initStage2 } from './guest-init.js'
import { withLock } from './lock.js'
import { elfLinking } from './elf-needed.js'
import { moduleLoadOrder, parseModulesBuiltin, parseModulesDep } from './module-order.js'
import { pvhKernelOf } from './pvh-kernel.js'

// The embedded default guest: a Debian kernel, busybox and dropbear, assembled into an
// initramfs (and the same tree as an ext4 disk for the seed's root=/dev/vda form).
// Cached by a key over the recipe, so it is rebuilt only when the recipe changes.

interface Recipe {
  kernelPackage: string
  packages: string[]
  /** Programs copied from the packages (with the libraries they need, found by reading their ELF headers). */
  programs: string[]
  modules: string[]
  /** x86: also keep the kernel uncompressed, for QEMU's faster PVH boot (when the kernel allows it). */
  pvh?: boolean
}

// Modules the guest loads at boot (those a kernel has built in are skipped): virtio for
// the NIC and the disk, ext4 and the crc32c it asks for at mount time (not a dependency
// modules.dep knows of) for the root disk form, netem for fault injection.
const modules = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng', 'crc32c_generic', 'ext4', 'sch_netem']
// busybox for the shell and tools, dropbear for SSH, iproute2's tc because busybox's knows no netem.
const packages = ['busybox-static', 'dropbear-bin', 'iproute2']
const programs = ['bin/busybox', 'usr/sbin/dropbear', 'usr/bin/dropbearkey', 'sbin/tc']

const recipes: Partial<Record<Arch, Recipe>> = {
  x86_64: { kernelPackage: 'linux-image-cloud-amd64', packages, programs, modules, pvh: true },
  i386: { kernelPackage: 'linux-image-686', packages, programs, modules },
  aarch64: { kernelPackage: 'linux-image-cloud-arm64', packages, programs, modules },
  arm: { kernelPackage: 'linux-image-armmp', packages, programs, modules },
}

/** Why an architecture has no default image, and what to do instead. */
export function noDefaultImageReason(arch: Arch): string {
  if (arch === 'riscv64') {
    return (
      'riscv64: there is no default image: Debian 12 has no riscv64 port, and the riscv64 package index of Debian 13 ' +
      'could not be downloaded from the configured mirror (size mismatch). Give the guest your own kernel and initrd ' +
      "instead, e.g. { arch: 'riscv64', kernel: 'Image', initrd: 'rootfs.cpio.gz' } (a Buildroot qemu_riscv64_virt_defconfig build gives both)"
    )
  }
  return `${arch}: there is no default image; give the guest a kernel (and initrd or rootfs)`
}

const RECIPE_VERSION = 2

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
  const recipe = recipes[arch]
  return createHash('sha256')
    .update(JSON.stringify({ RECIPE_VERSION, arch, recipe, initStage1, initStage2, etcFiles }))
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
  return recipes[arch] !== undefined
}

/** Returns the cached default image of `arch`, building it first when missing. */
export async function ensureDefaultImage(arch: Arch, cache = cacheDir()): Promise<DefaultImage> {
  const image = defaultImagePaths(arch, cache)
  if (existsSync(join(image.dir, 'manifest.json'))) return image
  const recipe = recipes[arch]
  if (!recipe) throw new Error(`vitest-qemu: ${noDefaultImageReason(arch)}`)
  await mkdir(dirname(image.dir), { recursive: true })
  return withLock(`${image.dir}.lock`, async () => {
    if (existsSync(join(image.dir, 'manifest.json'))) return image
    const started = Date.now()
    info(`building the default ${arch} guest image (once; cached in ${image.dir})`)
    const work = `${image.dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
    try {
      await build(arch, recipe, work, cache)
      await rm(image.dir, { recursive: true, force: true })
      await rename(join(work, 'out'), image.dir)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
    info(`built the default ${arch} guest image in ${seconds(Date.now() - started)}`)
    await pruneOtherBuilds(image)
    return image
  })
}

async function build(arch: Arch, recipe: Recipe, work: string, cache: string): Promise<void> {
  const debianArch = archProfiles[arch].debianArch
  const apt = new PrivateApt(join(cache, 'apt', debianArch), debianArch)
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now()
    const result = await fn()
    info(`  ${what} (${seconds(Date.now() - started)})`)
    return result
  }
  await step(`read the Debian ${debianArch} package index`, () => apt.update())
  const kernelPackage = await apt.resolveMetapackage(recipe.kernelPackage)
  const packages = [kernelPackage]
  for (const name of recipe.packages) packages.push(...(await apt.withDependencies(name)))
  const unique = [...new Set(packages)]
  const extracted = join(work, 'extracted')
  await step(`downloaded and unpacked ${unique.length} packages`, () => apt.downloadAndExtract(unique, join(work, 'debs'), extracted))

  const tree = join(work, 'tree')
  const out = join(work, 'out')
  await mkdir(out, { recursive: true })
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'root/.ssh', 'etc/dropbear', 'etc/vitest-qemu', 'newroot', 'var/log']) {
    await mkdir(join(tree, dir), { recursive: true })
  }
  for (const program of recipe.programs) await copyWithLibraries(extracted, program, tree)

  const kernelRelease = (await readdir(join(extracted, 'lib/modules')))[0]
  if (!kernelRelease) throw new Error(`${kernelPackage} holds no modules`)
  const vmlinuz = (await readdir(join(extracted, 'boot'))).find((name) => name.startsWith('vmlinuz'))
  if (!vmlinuz) throw new Error(`${kernelPackage} holds no boot/vmlinuz`)
  await execa('depmod', ['-b', extracted, kernelRelease])
  const modulesDir = join(extracted, 'lib/modules', kernelRelease)
  const builtin = parseModulesBuiltin(await readFile(join(modulesDir, 'modules.builtin'), 'utf8'))
  const order = moduleLoadOrder(parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8')), recipe.modules.filter((name) => !builtin.has(name)))
  for (const module of order) {
    await mkdir(dirname(join(tree, 'lib/modules', module)), { recursive: true })
    await cp(join(modulesDir, module), join(tree, 'lib/modules', module))
  }
  await writeFile(join(tree, 'etc/vitest-qemu/modules'), `${order.join('\n')}\n`)

  await writeFile(join(tree, 'init'), initStage1, { mode: 0o755 })
  await writeFile(join(tree, 'sbin/vq-init'), initStage2, { mode: 0o755 })
  for (const [path, content] of Object.entries(etcFiles)) await writeFile(join(tree, path), content, { mode: path === 'etc/shadow' ? 0o600 : 0o644 })
  await chmod(join(tree, 'root'), 0o700)

  await cp(join(extracted, 'boot', vmlinuz), join(out, 'vmlinuz'))
  if (recipe.pvh) {
    const elf = pvhKernelOf(await readFile(join(out, 'vmlinuz')))
    if (elf) await writeFile(join(out, 'vmlinux'), elf)
    else info(`  ${kernelPackage}'s kernel cannot be booted through PVH (not LZ4, or no PVH entry): guests boot it through the firmware`)
  }
  const entries = await treeToCpioEntries(tree)
  entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 }, { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 })
  await writeFile(join(out, 'initrd.cpio'), writeCpio(entries))
  await step('made the ext4 root disk', () =>
    execa('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'vitest-qemu', '-E', 'root_owner=0:0', '-d', tree, join(out, 'rootfs.ext4'), '96M']),
  )
  const versions = await apt.versions(unique)
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify({ arch, key: defaultImageKey(arch), kernelRelease, packages: versions, modules: order, builtAt: new Date().toISOString() }, null, 2)}\n`)
}

/**
 * Copies a program into the tree with its dynamic loader and, recursively, every library
 * it needs, each from the unpacked packages (any architecture: nothing is run).
 */
async function copyWithLibraries(extracted: string, program: string, tree: string, copied = new Set<string>()): Promise<void> {
  const source = join(extracted, program)
  if (!existsSync(source)) throw new Error(`default image: ${program} is in none of the recipe's packages`)
  await mkdir(dirname(join(tree, program)), { recursive: true })
  await cp(await realpath(source), join(tree, program))
  copied.add(program)
  const { needed, interpreter } = elfLinking(source)
  if (interpreter && !copied.has(interpreter.slice(1))) {
    await mkdir(dirname(join(tree, interpreter)), { recursive: true })
    await cp(await realpath(join(extracted, interpreter)), join(tree, interpreter))
    copied.add(interpreter.slice(1))
  }
  for (const soname of needed) {
    const found = await findLibrary(extracted, soname)
    if (!found) throw new Error(`default image: ${program} needs ${soname}, which none of the recipe's packages holds`)
    if (!copied.has(found)) await copyWithLibraries(extracted, found, tree, copied)
  }
}

async function findLibrary(extracted: string, soname: string): Promise<string | undefined> {
  for (const base of ['lib', 'usr/lib']) {
    if (!existsSync(join(extracted, base))) continue
    for (const dir of ['', ...(await readdir(join(extracted, base))).filter((name) => name.endsWith('-linux-gnu') || name.endsWith('-linux-gnueabihf'))]) {
      const candidate = join(base, dir, soname)
      if (existsSync(join(extracted, candidate))) return candidate
    }
  }
  return undefined
}

/** Removes this architecture's images built from older recipes: they would never be used again by this version. */
async function pruneOtherBuilds(image: DefaultImage): Promise<void> {
  const parent = dirname(image.dir)
  for (const name of await readdir(parent)) {
    if (name.startsWith(`${image.arch}-`) && /^[a-z0-9_]+-[0-9a-f]{16}$/.test(name) && join(parent, name) !== image.dir) {
      await rm(join(parent, name), { recursive: true, force: true })
    }
  }
}

async function treeToCpioEntries(root: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = []
  const visit = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const rel = relative(root, path)
      const info = await lstat(path)
      if (info.isSymbolicLink()) entries.push({ type: 'symlink', path: rel, target: await readlink(path) })
      else if (info.isDirectory()) {
        entries.push({ type: 'dir', path: rel, mode: info.mode & 0o7777 })
        await visit(path)
      } else entries.push({ type: 'file', path: rel, data: await readFile(path), mode: (await stat(path)).mode & 0o7777 })
    }
  }
  await visit(root)
  return entries
}

