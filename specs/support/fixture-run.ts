import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { execa, type ResultPromise } from 'execa'
import type { LabDescriptor } from 'vitest-qemu'
import { type LabFootprint, holdNamespaceOf, processesInNamespace, waitUntil } from './host-state.js'

// A Vitest run of a fixture project (specs/fixtures/NAME) in a child process, with its
// own runtime folder so a spec can watch exactly that run's supervisor and namespace.

const specsDir = join(dirname(fileURLToPath(import.meta.url)), '..')
// The Vitest of the line under test: the project's, or the one compat/vitest4/run.sh names.
const vitestBin = process.env.VITEST_QEMU_VITEST_BIN ?? join(specsDir, '..', 'node_modules', 'vitest', 'vitest.mjs')

export interface FixtureRun {
  process: ResultPromise<{ reject: false; all: true }>
  runtimeRoot: string
  descriptorFile: string
}

export function startFixtureRun(fixture: string, args: string[] = [], env: Record<string, string> = {}, mode: 'run' | 'watch' = 'run'): FixtureRun {
  const scratch = mkdtempSync(join(tmpdir(), `vq-${fixture}-`))
  const runtimeRoot = join(scratch, 'runtime')
  // Private, as vitest-qemu requires of a runtime root (else the run would use another).
  mkdirSync(runtimeRoot, { mode: 0o700 })
  const descriptorFile = join(scratch, 'lab.json')
  const child = execa(process.execPath, [vitestBin, mode === 'run' ? 'run' : '--watch', '--root', join(specsDir, 'fixtures', fixture), ...args], {
    env: { VQ_DESCRIPTOR_FILE: descriptorFile, VITEST_QEMU_RUNTIME_DIR: runtimeRoot, ...env },
    reject: false,
    all: true,
  })
  return { process: child, runtimeRoot, descriptorFile }
}

/** Waits until the run's test is running and returns its lab descriptor. */
export async function waitForTest(run: FixtureRun, timeoutMs = 120_000): Promise<LabDescriptor> {
  const ok = await waitUntil(() => existsSync(run.descriptorFile) && readFileSync(run.descriptorFile, 'utf8').endsWith('}'), timeoutMs, 100)
  if (!ok) {
    run.process.kill('SIGKILL')
    throw new Error(`the fixture run never reached its test:\n${(await run.process).all}`)
  }
  return JSON.parse(readFileSync(run.descriptorFile, 'utf8')) as LabDescriptor
}

/** Waits until the run's supervisor has started `qemus` QEMU processes, before they are ready. */
export async function waitForBooting(run: FixtureRun, qemus: number, timeoutMs = 60_000): Promise<LabFootprint> {
  let footprint: LabFootprint | undefined
  const ok = await waitUntil(() => {
    for (const id of readdirSync(run.runtimeRoot)) {
      try {
        const ledger = JSON.parse(readFileSync(join(run.runtimeRoot, id, 'ledger.json'), 'utf8')) as { supervisor?: { pid: number } }
        if (!ledger.supervisor) continue
        const namespace = readlinkSync(`/proc/${ledger.supervisor.pid}/ns/net`)
        const inside = processesInNamespace(namespace)
        if (inside.length < qemus + 1) continue
        footprint = { pids: inside, namespace: holdNamespaceOf(ledger.supervisorPid), runDir: join(run.runtimeRoot, id) }
        return true
      } catch {
        // not written yet
      }
    }
    return false
  }, timeoutMs, 20)
  if (!ok || !footprint) {
    run.process.kill('SIGKILL')
    throw new Error(`the fixture run never started its guests:\n${(await run.process).all}`)
  }
  return footprint
}

/**
 * Runs a fixture to its end with a fresh folder for the marks its tests leave (VQ_MARKS:
 * one file per test, read back with `mark`); the output comes without colours.
 */
export async function runWithMarks(fixture: string): Promise<{ exitCode: number | undefined; output: string; mark(name: string): string; runtimeRoot: string }> {
  const marks = mkdtempSync(join(tmpdir(), `vq-${fixture}-marks-`))
  const run = startFixtureRun(fixture, [], { VQ_MARKS: marks })
  const result = await run.process
  return { exitCode: result.exitCode, output: stripVTControlCharacters(result.all), mark: (name) => readFileSync(join(marks, name), 'utf8'), runtimeRoot: run.runtimeRoot }
}
