import { existsSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { execa } from './lazy-execa.js'
import { archProfiles } from '../config/arch.js'
import type { Arch } from '../config/config.js'
import { info } from '../common/log.js'
import { writeCpio } from './cpio.js'
import type { PrivateApt } from './debian-packages.js'
import type { DefaultImage } from './default-image.js'
import { etcFiles } from './guest-init.js'
import { type Recipe, recipeApt, step, treeToCpioEntries } from './image-build.js'
import { moduleLoadOrder, moduleName, uncompressedPath } from './module-order.js'
import { copyModule, indexKernelModules } from './kernel-modules.js'
import { type Accounts, type Alternative, accountFiles, chooseAlternatives, parseAlternatives, parsePostinst, parseSysusers, postinstPaths, tmpfilesCommands } from './maintainer-effects.js'
import { loadedAtBoot, modulesForPackages } from './package-modules.js'
import { modprobeFiles } from './modprobe-tree.js'

// Building a package set's archive (package-set.ts): the packages and their dependency
// closure from the image's own Debian release, unpacked; then what their maintainer
// scripts would have done (users, groups, folders), and the kernel modules they need
// from the image's kernel. Loaded only to build.

/**
 * What the image already has, or what a guest without systemd never runs (an alternative
 * such as lighttpd's "systemd-sysv | lsb-base" then takes the other branch). Asked for by
 * name, a package is never skipped.
 */
const SKIPPED = [/^linux-image-/, /^busybox-static$/, /^dropbear-bin$/, /^initramfs-tools/, /^systemd(-sysv|-timesyncd)?$/, /^udev$/, /^libpam-systemd$/, /^dbus(-.*)?$/, /^usrmerge$/]
/** The image's own files, which a package must not replace (its init, accounts, identity). */
const PROTECTED = ['dev', 'proc', 'sys', 'run', 'tmp', 'init', 'sbin/init', 'bin/sh', 'etc/passwd', 'etc/group', 'etc/shadow', 'etc/gshadow', 'etc/profile', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/inittab', 'etc/vitest-qemu']
/** Documentation: nothing in a test guest reads it. */
const STRIPPED = ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian']

export interface PackageSetBuild {
  guest: string
  arch: Arch
  recipe: Recipe
  image: DefaultImage
  packages: string[]
  work: string
  cache: string
}

export async function buildPackageSet({ arch, recipe, image, packages, work, cache }: PackageSetBuild): Promise<void> {
  const apt = await recipeApt(arch, recipe, cache)
  await checkAvailable(apt, packages, `${recipe.release} ${archProfiles[arch].debianArch}`)
  const skip = (name: string) => !packages.includes(name) && SKIPPED.some((pattern) => pattern.test(name))
  const wanted = await step('resolved what the packages need', () => apt.dependencyClosure(['base-passwd', ...packages], skip))
  const tree = join(work, 'tree')
  const debs = join(work, 'debs')
  await step(`downloaded and unpacked ${wanted.length} packages`, () => apt.downloadAndExtract(wanted, debs, tree))

  // Accounts: Debian's fixed ones (base-passwd), then those the packages create.
  const accounts: Accounts = { users: [], groups: [] }
  const alternatives: Alternative[] = []
  for (const deb of (await readdir(debs)).filter((name) => name.endsWith('.deb'))) {
    const control = join(work, 'control', deb)
    await mkdir(control, { recursive: true })
    await execa('dpkg-deb', ['-e', join(debs, deb), control])
    if (!existsSync(join(control, 'postinst'))) continue
    const script = await readFile(join(control, 'postinst'), 'utf8')
    parsePostinst(script, accounts)
    alternatives.push(...parseAlternatives(script))
    // Stock configurations enabled by a link (nginx's default site), folders made at install.
    const { links, dirs } = postinstPaths(script)
    for (const dir of dirs) await mkdir(join(tree, dir), { recursive: true })
    for (const [target, link] of links) {
      if (!existsSync(join(tree, target)) || existsSync(join(tree, link))) continue
      await mkdir(dirname(join(tree, link)), { recursive: true })
      await symlink(target, join(tree, link))
    }
  }
  const boot: string[] = []
  for (const dir of ['usr/lib/sysusers.d', 'usr/lib/tmpfiles.d', 'etc/tmpfiles.d']) {
    if (!existsSync(join(tree, dir))) continue
    for (const name of (await readdir(join(tree, dir))).filter((file) => file.endsWith('.conf')).sort()) {
      const text = await readFile(join(tree, dir, name), 'utf8')
      if (dir.includes('sysusers')) parseSysusers(text, accounts)
      else boot.push(...tmpfilesCommands(text))
    }
  }
  const master = async (name: string) => readFile(join(tree, 'usr/share/base-passwd', name), 'utf8').catch(() => '')
  const fixedUsers = (await master('passwd.master')).split('\n').filter((line) => line && !line.startsWith('root:'))
  const fixedGroups = (await master('group.master')).split('\n').filter((line) => line && !line.startsWith('root:'))
  const base = {
    passwd: etcFiles['etc/passwd']! + fixedUsers.map((line) => `${line}\n`).join(''),
    group: etcFiles['etc/group']! + fixedGroups.map((line) => `${line}\n`).join(''),
    shadow: etcFiles['etc/shadow']! + fixedUsers.map((line) => `${line.split(':')[0]}:*:19000:0:99999:7:::\n`).join(''),
  }
  for (const user of accounts.users) {
    if (user.home === '/nonexistent' || user.home === '/' || !user.home.startsWith('/')) continue
    boot.push(`mkdir -p ${user.home}`, `chown ${user.name}:${user.group} ${user.home} 2>/dev/null`)
  }

  for (const alternative of chooseAlternatives(alternatives)) {
    for (const [link, target] of alternative.links) {
      if (!existsSync(join(tree, target))) continue
      await rm(join(tree, link), { force: true })
      await mkdir(dirname(join(tree, link)), { recursive: true })
      await symlink(target, join(tree, link))
    }
  }
  for (const path of [...PROTECTED, ...STRIPPED]) await rm(join(tree, path), { recursive: true, force: true })
  await claimProgramNames(tree)
  const files = accountFiles(base, accounts)
  await mkdir(join(tree, 'etc/vitest-qemu/setup'), { recursive: true })
  await writeFile(join(tree, 'etc/passwd'), files.passwd)
  await writeFile(join(tree, 'etc/group'), files.group)
  await writeFile(join(tree, 'etc/shadow'), files.shadow, { mode: 0o600 })
  for (const dir of ['var/lib/misc', 'var/log', 'var/cache', 'var/spool', 'var/www/html']) await mkdir(join(tree, dir), { recursive: true })
  await mkdir(join(tree, 'var/tmp'), { recursive: true })
  await chmod(join(tree, 'var/tmp'), 0o1777)
  // Run by the guest's init before the config's own setup commands (they are 001 on): never fails the boot.
  await writeFile(join(tree, 'etc/vitest-qemu/setup/000'), `${[...boot, 'true'].join('\n')}\n`)

  const imageManifest = JSON.parse(await readFile(join(image.dir, 'manifest.json'), 'utf8')) as { kernelRelease: string; modules: string[] }
  const added = await step('took the kernel modules the packages need', () => addModules(apt, imageManifest, modulesForPackages(packages), work, tree))

  const out = join(work, 'out')
  await mkdir(out, { recursive: true })
  const entries = await treeToCpioEntries(tree)
  await writeFile(join(out, 'packages.cpio'), writeCpio(entries))
  const size = (await stat(join(out, 'packages.cpio'))).size
  info(`  the archive holds ${entries.length} files and folders, ${(size / 2 ** 20).toFixed(1)} MiB`)
  const versions = await apt.versions(wanted)
  await writeFile(
    join(out, 'manifest.json'),
    `${JSON.stringify({ arch, release: recipe.release, requested: packages, packages: versions, modules: added, accounts, bytes: size, builtAt: new Date().toISOString() }, null, 2)}\n`,
  )
}

/** Every requested package must exist in the release: one missing is named, not a bare apt error. */
async function checkAvailable(apt: PrivateApt, packages: string[], where: string): Promise<void> {
  try {
    const versions = await apt.versions(packages)
    const missing = packages.filter((name) => versions[name] === 'unknown')
    if (missing.length > 0) throw new Error(`no Debian package ${missing.join(', ')} in ${where}`)
  } catch (error) {
    if ((error as Error).message.startsWith('no Debian package')) throw error
    const missing: string[] = []
    for (const name of packages) await apt.versions([name]).catch(() => missing.push(name))
    if (missing.length > 0) throw new Error(`no Debian package ${missing.join(', ')} in ${where} (a virtual package? name one that provides it)`)
    throw error
  }
}

/**
 * The modules (with what they need) from the image's own kernel package, those the kernel
 * has built in or lacks skipped. They load on demand: busybox's modprobe, which the kernel
 * calls when a netfilter table, a link type or a socket family is first asked for, finds
 * them through modules.dep and modules.alias under /lib/modules/<release>/ (a link to the
 * image's module folder). Only those nothing would ask for join the image's list loaded
 * at boot (package-modules.ts): loading all of them there took 0.7 s of a cold boot.
 */
async function addModules(apt: PrivateApt, image: { kernelRelease: string; modules: string[] }, names: string[], work: string, tree: string): Promise<string[]> {
  if (names.length === 0) return []
  const kernel = join(work, 'kernel')
  await apt.downloadAndExtract([`linux-image-${image.kernelRelease}`], join(work, 'kernel-deb'), kernel)
  const modules = await indexKernelModules(kernel, image.kernelRelease)
  const known = new Set([...modules.deps.keys()].map(moduleName))
  const available = names.filter((name) => known.has(name.replace(/-/g, '_')) && !modules.builtin.has(name))
  const added: string[] = []
  for (const module of moduleLoadOrder(modules.deps, available)) {
    if (!image.modules.includes(uncompressedPath(module))) added.push(await copyModule(modules, module, tree))
  }
  const files = modprobeFiles(modules.deps, await readFile(join(modules.dir, 'modules.alias'), 'utf8'), [...image.modules, ...added])
  const release = join(tree, 'lib/modules', image.kernelRelease)
  await mkdir(release, { recursive: true })
  await symlink('../kernel', join(release, 'kernel'))
  await writeFile(join(release, 'modules.dep'), files.dep)
  await writeFile(join(release, 'modules.alias'), files.alias)
  // What loads at boot: the image's list, then those of the packages' modules nothing would ask for.
  const atBoot = moduleLoadOrder(modules.deps, available.filter(loadedAtBoot)).map(uncompressedPath).filter((path) => !image.modules.includes(path))
  if (atBoot.length > 0) await writeFile(join(tree, 'etc/vitest-qemu/modules'), `${[...image.modules, ...atBoot].join('\n')}\n`)
  return added
}

const PROGRAM_DIRS = ['usr/local/sbin', 'usr/local/bin', 'usr/sbin', 'usr/bin', 'sbin', 'bin']

/**
 * A program of the packages wins over busybox's applet of the same name wherever the
 * guest's PATH looks: busybox links its applets at boot only where no file is, so each
 * program dir without the name gets a link to the package's program (iproute2's /bin/ip
 * would otherwise lose to busybox's /sbin/ip, earlier in PATH).
 */
async function claimProgramNames(tree: string): Promise<void> {
  const where = new Map<string, string>()
  for (const dir of PROGRAM_DIRS) {
    if (!existsSync(join(tree, dir))) continue
    for (const name of await readdir(join(tree, dir))) if (!where.has(name)) where.set(name, `/${dir}/${name}`)
  }
  for (const [name, path] of where) {
    for (const dir of PROGRAM_DIRS) {
      if (dir.startsWith('usr/local') || existsSync(join(tree, dir, name)) || `/${dir}/${name}` === path) continue
      await mkdir(join(tree, dir), { recursive: true })
      await symlink(path, join(tree, dir, name)).catch(() => {})
    }
  }
}
