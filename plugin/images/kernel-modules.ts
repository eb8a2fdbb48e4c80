import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, symlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { execa } from './lazy-execa.js'
import { parseModulesBuiltin, parseModulesDep, uncompressedPath } from './module-order.js'

// A kernel package's modules as the image builds read them (the default image, package
// sets): depmod's index over the unpacked package, and a module copied into the guest's
// tree uncompressed, for busybox's insmod and modprobe.

export interface KernelModules {
  dir: string
  deps: Map<string, string[]>
  builtin: Set<string>
}

/** Indexes the modules of a kernel package unpacked at `root`. */
export async function indexKernelModules(root: string, release: string): Promise<KernelModules> {
  // Debian 13 packages hold /usr/lib/modules (merged /usr), where depmod -b looks in lib/modules.
  if (!existsSync(join(root, 'lib/modules')) && existsSync(join(root, 'usr/lib/modules'))) {
    await mkdir(join(root, 'lib'), { recursive: true })
    await symlink('../usr/lib/modules', join(root, 'lib/modules'))
  }
  await execa('depmod', ['-b', root, release])
  const dir = join(root, 'lib/modules', release)
  return {
    dir,
    deps: parseModulesDep(await readFile(join(dir, 'modules.dep'), 'utf8')),
    builtin: parseModulesBuiltin(await readFile(join(dir, 'modules.builtin'), 'utf8')),
  }
}

/** Copies `module` (a modules.dep path) into tree/lib/modules/, uncompressed; returns its path there. */
export async function copyModule(modules: KernelModules, module: string, tree: string): Promise<string> {
  const path = uncompressedPath(module)
  const to = join(tree, 'lib/modules', path)
  await mkdir(dirname(to), { recursive: true })
  // Debian 13 compresses modules (.ko.xz).
  if (module.endsWith('.xz')) await execa('xz', ['-dc', join(modules.dir, module)], { stdout: { file: to } })
  else await cp(join(modules.dir, module), to)
  return path
}
