import { existsSync } from 'node:fs'
import { chmod, cp, lstat, mkdir, readdir, readFile, readlink, realpath, stat, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { execa } from './lazy-execa.js'
import { archProfiles } from '../config/arch.js'
import type { Arch } from '../config/config.js'
import { info, seconds } from '../common/log.js'
import { type CpioEntry, writeCpio } from './cpio.js'
import { PrivateApt } from './debian-packages.js'
import { agentScript, etcFiles, initStage1, initStage2, udhcpcScript } from './guest-init.js'
import { elfLinking } from './elf-needed.js'
import { moduleLoadOrder } from './module-order.js'
import { copyModule, indexKernelModules } from './kernel-modules.js'
import { pvhKernelOf } from './pvh-kernel.js'

// Building a default image from its recipe: Debian packages downloaded with a private
// apt state, the programs and the libraries they need copied into a tree, the kernel
// modules in load order, then the initramfs and the ext4 disk. Loaded only to build.

export interface Recipe {
  /** The Debian release (suite) the packages come from. */
  release: string
  kernelPackage: string
  packages: string[]
  /** Programs copied from the packages (with the libraries they need, found by reading their ELF headers). */
  programs: string[]
  modules: string[]
  /** x86: also keep the kernel uncompressed, for QEMU's faster PVH boot (when the kernel allows it). */
  pvh?: boolean
}

/** The private apt state of a recipe's release and architecture, its index read afresh. */
export async function recipeApt(arch: Arch, recipe: Recipe, cache: string): Promise<PrivateApt> {
  const debianArch = archProfiles[arch].debianArch
  const apt = new PrivateApt(join(cache, 'apt', `${recipe.release}-${debianArch}`), debianArch, recipe.release)
  await step(`read the Debian ${recipe.release} ${debianArch} package index`, () => apt.update())
  return apt
}

/** One step of a build, with how long it took on its progress line. */
export async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now()
  const result = await fn()
  info(`  ${what} (${seconds(Date.now() - started)})`)
  return result
}

/** Builds the image of `recipe` into `work`/out. */
export async function buildImage(arch: Arch, recipe: Recipe, key: string, work: string, cache: string): Promise<void> {
  const apt = await recipeApt(arch, recipe, cache)
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

  // Debian 13 packages hold /usr/lib/modules (merged /usr).
  const modulesRoot = existsSync(join(extracted, 'lib/modules')) ? join(extracted, 'lib/modules') : join(extracted, 'usr/lib/modules')
  const kernelRelease = existsSync(modulesRoot) ? (await readdir(modulesRoot))[0] : undefined
  if (!kernelRelease) throw new Error(`${kernelPackage} holds no modules`)
  // vmlinuz (x86, arm) or, for riscv64, vmlinux (an uncompressed Image that QEMU loads as is).
  const vmlinuz = (await readdir(join(extracted, 'boot'))).find((name) => name.startsWith('vmlinuz') || name.startsWith('vmlinux'))
  if (!vmlinuz) throw new Error(`${kernelPackage} holds no boot/vmlinuz`)
  const modules = await indexKernelModules(extracted, kernelRelease)
  const order: string[] = []
  for (const module of moduleLoadOrder(modules.deps, recipe.modules.filter((name) => !modules.builtin.has(name)))) order.push(await copyModule(modules, module, tree))
  await writeFile(join(tree, 'etc/vitest-qemu/modules'), `${order.join('\n')}\n`)

  await writeFile(join(tree, 'init'), initStage1, { mode: 0o755 })
  await writeFile(join(tree, 'sbin/vq-init'), initStage2, { mode: 0o755 })
  await writeFile(join(tree, 'sbin/vq-agent'), agentScript, { mode: 0o755 })
  await writeFile(join(tree, 'sbin/vq-udhcpc'), udhcpcScript, { mode: 0o755 })
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
  await writeFile(join(out, 'manifest.json'), `${JSON.stringify({ arch, key, release: recipe.release, kernelRelease, packages: versions, modules: order, builtAt: new Date().toISOString() }, null, 2)}\n`)
}

/**
 * Copies a program into the tree with its dynamic loader and, recursively, every library
 * it needs, each from the unpacked packages (any architecture: nothing is run).
 */
async function copyWithLibraries(extracted: string, program: string, tree: string, copied = new Set<string>()): Promise<void> {
  const source = mergedUsrPath(extracted, program)
  if (!source) throw new Error(`default image: ${program} is in none of the recipe's packages`)
  await mkdir(dirname(join(tree, program)), { recursive: true })
  await cp(await realpath(source), join(tree, program))
  copied.add(program)
  const { needed, interpreter } = elfLinking(source)
  if (interpreter && !copied.has(interpreter.slice(1))) {
    const loader = mergedUsrPath(extracted, interpreter.slice(1))
    if (!loader) throw new Error(`default image: ${program} needs its loader ${interpreter}, which none of the recipe's packages holds`)
    await mkdir(dirname(join(tree, interpreter)), { recursive: true })
    await cp(await realpath(loader), join(tree, interpreter))
    copied.add(interpreter.slice(1))
  }
  for (const soname of needed) {
    const found = await findLibrary(extracted, soname)
    if (!found) throw new Error(`default image: ${program} needs ${soname}, which none of the recipe's packages holds`)
    if (!copied.has(found)) await copyWithLibraries(extracted, found, tree, copied)
  }
}

/**
 * Where a file of the packages is: at its path, or under usr/ (Debian 13's packages put
 * /bin, /sbin and /lib files there). The image keeps the path the recipe and the ELF name.
 */
function mergedUsrPath(extracted: string, path: string): string | undefined {
  return [join(extracted, path), join(extracted, 'usr', path)].find((candidate) => existsSync(candidate))
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

/** A folder's tree as cpio entries (paths relative to it, modes kept, symlinks as symlinks). */
export async function treeToCpioEntries(root: string): Promise<CpioEntry[]> {
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

