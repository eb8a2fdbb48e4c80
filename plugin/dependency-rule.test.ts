import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, test } from 'vitest'

// The house's one dependency rule (docs/architecture.md): imports run down, never
// sideways between two processes' folders. Each folder lists what it may import; the
// supervisor and everything below it never load Vitest, Vite or the CLI.

const root = join(import.meta.dirname, '..')

/** What each folder may import from the project (itself included). */
const mayImport: Record<string, string[]> = {
  'plugin/config': ['plugin/config'],
  'plugin/common': ['plugin/common', 'plugin/config'],
  'plugin/qemu': ['plugin/qemu', 'plugin/common', 'plugin/config'],
  'plugin/run': ['plugin/run', 'plugin/common', 'plugin/config'],
  'plugin/protocol': ['plugin/protocol', 'plugin/qemu', 'plugin/common', 'plugin/config'],
  'plugin/ssh': ['plugin/ssh', 'plugin/protocol', 'plugin/common'],
  'plugin/images': ['plugin/images', 'plugin/common', 'plugin/config'],
  // The supervisor's SSH readiness stage is a handshake made with the SSH client.
  'plugin/supervisor': ['plugin/supervisor', 'plugin/ssh', 'plugin/protocol', 'plugin/qemu', 'plugin/run', 'plugin/common', 'plugin/config'],
  'plugin/lab': ['plugin/lab', 'plugin/images', 'plugin/protocol', 'plugin/qemu', 'plugin/run', 'plugin/common', 'plugin/config'],
  'plugin/vitest': ['plugin/vitest', 'plugin/lab', 'plugin/protocol', 'plugin/run', 'plugin/common', 'plugin/config'],
  'plugin/cli': ['plugin/cli', 'plugin/vitest', 'plugin/lab', 'plugin/ssh', 'plugin/images', 'plugin/protocol', 'plugin/qemu', 'plugin/run', 'plugin/common', 'plugin/config'],
  fixtures: ['fixtures', 'plugin/ssh', 'plugin/protocol', 'plugin/common'],
  // The entry points (plugin/index.ts, plugin/cli.ts): anything of plugin/, never the worker side.
  plugin: ['plugin'],
  // The package's front door (index.ts) composes the engine and the handles.
  '.': ['plugin', 'fixtures'],
}

/** Packages a folder must never load at run time (type-only imports load nothing). */
const VITEST_AND_CLI = ['vitest', 'vite', '@vitest/']
const mustNotLoad: Record<string, string[]> = {
  'plugin/config': VITEST_AND_CLI,
  'plugin/common': VITEST_AND_CLI,
  'plugin/qemu': VITEST_AND_CLI,
  'plugin/run': VITEST_AND_CLI,
  'plugin/protocol': VITEST_AND_CLI,
  'plugin/supervisor': VITEST_AND_CLI,
  'plugin/images': VITEST_AND_CLI,
  'plugin/lab': VITEST_AND_CLI,
  'plugin/ssh': VITEST_AND_CLI,
}

interface Import {
  file: string
  specifier: string
  typeOnly: boolean
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** Every static and dynamic import of a file, with whether it is type-only. */
export function importsOf(file: string, text: string): Import[] {
  const found: Import[] = []
  const statement = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm
  for (const match of text.matchAll(statement)) found.push({ file, specifier: match[3]!, typeOnly: match[2] !== undefined })
  for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ file, specifier: match[1]!, typeOnly: false })
  return found
}

/** The rule's folder of a project file: the folder it is in, which the rule must name. */
function folderOf(file: string): string {
  const dir = dirname(file)
  if (!(dir in mayImport)) throw new Error(`${file} is in a folder the dependency rule does not name (${dir}/): add it to the rule`)
  return dir
}

function violations(): string[] {
  const problems: string[] = []
  for (const file of ['index.ts', ...sourceFiles('plugin'), ...sourceFiles('fixtures')]) {
    const from = folderOf(file)
    for (const { specifier, typeOnly } of importsOf(file, readFileSync(join(root, file), 'utf8'))) {
      if (specifier.startsWith('.')) {
        const target = relative(root, resolve(root, dirname(file), specifier))
        const to = folderOf(target)
        const allowed = mayImport[from]!.some((folder) => to === folder || ((from === 'plugin' || from === '.') && to.startsWith(`${folder}/`)))
        if (!allowed) problems.push(`${file} imports ${specifier} (${to}/ is not below ${from}/)`)
      } else if (!typeOnly && (mustNotLoad[from] ?? []).some((name) => specifier === name || specifier.startsWith(`${name}/`) || (name.endsWith('/') && specifier.startsWith(name)))) {
        problems.push(`${file} loads ${specifier}, which ${from}/ must never load`)
      }
    }
  }
  return problems
}

describe('the dependency rule', () => {
  test('every import of plugin/ and fixtures/ runs down, and the supervisor never loads Vitest, Vite or the CLI', () => {
    expect(violations()).toEqual([])
  })

  test('the import reader sees static, re-exported, type-only and dynamic imports', () => {
    const text = [
      "import { a } from './a.js'",
      "import type { B } from '../b.js'",
      "export { c } from './c.js'",
      "import './side-effect.js'",
      "const d = await import('./d.js')",
      "import {\n  e,\n  f,\n} from 'vitest'",
    ].join('\n')
    expect(importsOf('x.ts', text).map(({ specifier, typeOnly }) => `${specifier}${typeOnly ? ' (type)' : ''}`)).toEqual([
      './a.js', '../b.js (type)', './c.js', './side-effect.js', 'vitest', './d.js',
    ])
  })

  test('a folder importing from a process beside it is named with the offending import', () => {
    const [entry] = importsOf('plugin/supervisor/x.ts', "import { startLab } from '../lab/lab.js'")
    const to = folderOf(relative(root, resolve(root, 'plugin/supervisor', entry!.specifier)))
    expect(mayImport['plugin/supervisor']).not.toContain(to)
  })
})
