import { moduleName, uncompressedPath as uncompressed } from './module-order.js'

// What busybox's modprobe reads in /lib/modules/<release>/ to load a module when the
// kernel asks for one (a netfilter expression, a link type, a socket family): modules.dep
// and modules.alias, narrowed to the modules a guest has. The kernel's own files come from
// depmod over its package; paths lose a compression suffix, as the guest's modules have.

/**
 * modules.dep and modules.alias for the modules at `present` (paths as the guest has
 * them, relative to /lib/modules/<release>/), from the kernel's `deps` and alias text.
 */
export function modprobeFiles(deps: Map<string, string[]>, aliasText: string, present: string[]): { dep: string; alias: string } {
  const have = new Set(present)
  const depLines: string[] = []
  for (const [path, needs] of deps) {
    const plain = uncompressed(path)
    if (!have.has(plain)) continue
    const missing = needs.map(uncompressed).filter((need) => !have.has(need))
    if (missing.length > 0) throw new Error(`kernel module ${plain} needs ${missing.join(', ')}, which the guest would not have`)
    depLines.push(`${plain}: ${needs.map(uncompressed).join(' ')}`.trimEnd())
  }
  const names = new Set(present.map(moduleName))
  const aliasLines = aliasText.split('\n').filter((line) => {
    const [word, , module] = line.trim().split(/\s+/)
    return word === 'alias' && module !== undefined && names.has(module.replace(/-/g, '_'))
  })
  return { dep: `${depLines.join('\n')}\n`, alias: `${aliasLines.join('\n')}\n` }
}
