import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

// The guest names of the labs a Vitest config declares, as a declaration file beside it
// (`vitest-qemu-env.d.ts`), so that `test('...', ({ web }) => ...)` is typed and a misspelt
// guest is a compile error. Every qemuLab(...) loaded with the same root adds its names
// (a config with several labs gets them all); the file is rewritten only when it changes.

export const GUEST_NAMES_FILE = 'vitest-qemu-env.d.ts'

const namesByRoot = new Map<string, Map<object, string[]>>()

export function guestNamesDeclaration(names: Iterable<string>): string {
  const sorted = [...new Set(names)].sort()
  return [
    '// Written by vitest-qemu when Vitest loads its config: the guest names of its labs, so that',
    '// the fixtures of `vitest-qemu/test` are typed. Do not edit; keep it out of version control.',
    'export {}',
    '',
    'declare global {',
    '  interface VitestQemuGuests {',
    ...sorted.map((name) => `    ${name}: true`),
    '  }',
    '}',
    '',
  ].join('\n')
}

/** Records the guests of one plugin instance and rewrites the root's file when its content changes. */
export function writeGuestNames(root: string, plugin: object, names: string[]): void {
  const byPlugin = namesByRoot.get(root) ?? new Map<object, string[]>()
  namesByRoot.set(root, byPlugin)
  byPlugin.set(plugin, names)
  const text = guestNamesDeclaration([...byPlugin.values()].flat())
  const path = join(root, GUEST_NAMES_FILE)
  let current: string | undefined
  try {
    current = readFileSync(path, 'utf8')
  } catch {
    // not written yet
  }
  if (current === text) return
  try {
    // Aside, then renamed into place: an editor or tsc never reads half a file.
    writeFileSync(`${path}.${process.pid}.tmp`, text)
    renameSync(`${path}.${process.pid}.tmp`, path)
  } catch (error) {
    process.stderr.write(`[vitest-qemu] could not write ${path} (the guest names' typings): ${(error as Error).message}\n`)
  }
}
