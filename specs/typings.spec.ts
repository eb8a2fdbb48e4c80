import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { qemuLab } from 'vitest-qemu'

// The package's typings as a user's project on this line sees them (strict, skipLibCheck
// off): specs/fixtures/types-vitest5 on the main line, types-vitest4 (with its one line of
// setup, customConditions) on Vitest 4.1. The guest names come from the file the plugin
// writes when the config loads; without it a misspelt guest compiles, and tsc says so.

const line = process.env.VITEST_QEMU_LINE === 'vitest4' ? 'vitest4' : 'vitest5'
const project = join(import.meta.dirname, 'fixtures', `types-${line}`)
const tsc = join(import.meta.dirname, '..', 'node_modules', 'typescript', 'bin', 'tsc')

test(`typings on the ${line} line: guests typed by the plugin's file, a misspelt guest and a sync use of a matcher do not compile`, { timeout: 120_000 }, async () => {
  rmSync(join(project, 'vitest-qemu-env.d.ts'), { force: true })
  const untyped = await execa(process.execPath, [tsc, '-p', project], { reject: false })
  expect(untyped.stdout).toMatch(/typed\.ts\(\d+,\d+\): error TS2578: Unused '@ts-expect-error' directive/)

  qemuLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { web: { bridge: 'br0', ip: '10.0.0.2' }, db: { bridge: 'br0', ip: '10.0.0.3' } } }).config({ root: project })
  const typed = await execa(process.execPath, [tsc, '-p', project], { reject: false })
  expect(typed.stdout + typed.stderr).toBe('')
  expect(typed.exitCode).toBe(0)
})
