// Kernel modules must be loaded dependencies first ("Unknown symbol" otherwise).
// modules.dep (written by depmod) lists, for each module, what it needs; this turns
// it into one load order for the modules an image wants.

export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const module = line.slice(0, colon).trim()
    deps.set(module, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean))
  }
  return deps
}

/** Returns module paths (as in modules.dep) in an order where each follows its dependencies. */
export function moduleLoadOrder(deps: Map<string, string[]>, wanted: string[]): string[] {
  const byName = new Map<string, string>()
  for (const path of deps.keys()) byName.set(moduleName(path), path)
  const order: string[] = []
  const visiting = new Set<string>()
  const visit = (path: string) => {
    if (order.includes(path)) return
    if (visiting.has(path)) throw new Error(`modules.dep: dependency cycle through ${path}`)
    visiting.add(path)
    for (const dep of deps.get(path) ?? []) visit(dep)
    visiting.delete(path)
    order.push(path)
  }
  for (const name of wanted) {
    const path = byName.get(name.replace(/-/g, '_'))
    if (!path) throw new Error(`kernel module ${name} not found in modules.dep`)
    visit(path)
  }
  return order
}

/** A module's path as a guest has it: without the compression suffix of Debian's packages. */
export function uncompressedPath(path: string): string {
  return path.replace(/\.(xz|gz|zst)$/, '')
}

export function moduleName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_')
}

/** Names of the modules a kernel has built in (modules.builtin lists their would-be paths). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').filter(Boolean).map(moduleName))
}
