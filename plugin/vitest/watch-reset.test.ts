import { EventEmitter } from 'node:events'
import type { TestProject } from 'vitest/node'
import { describe, expect, test } from 'vitest'
import { resetForReruns } from './watch-reset.js'

// The watch-mode resets against a stand-in for Vitest (its watcher, changed files and
// running run) and for the lab (which records the resets asked for).

type Spec = { project: { name: string } }

function setUp(options: { internals?: boolean } = {}) {
  const reruns: ((specifications: Spec[]) => Promise<void>)[] = []
  const watcher = new EventEmitter()
  const reporters: { onTestRunEnd(modules: unknown[], errors: unknown[], reason: string): void }[] = []
  const vitest: Record<string, unknown> = {
    reporters,
    watcher: { changedTests: new Set<string>() },
    vite: { watcher },
    getModuleSpecifications: (file: string) => [{ project: { name: file.includes('/other/') ? 'other' : 'seed' } }],
  }
  if (options.internals !== false) vitest.runningPromise = undefined
  else delete vitest.reporters
  const project = { name: 'seed', vitest, onTestsRerun: (listener: (specifications: Spec[]) => Promise<void>) => reruns.push(listener) }
  const resets: { ifUsed: boolean; finish: () => void }[] = []
  const lab = {
    beginReset: async (resetOptions?: { ifUsed?: boolean }) => {
      let finish!: () => void
      const done = new Promise<number>((resolve) => (finish = () => resolve(resetOptions?.ifUsed ? 0 : 300)))
      resets.push({ ifUsed: resetOptions?.ifUsed === true, finish })
      return { done }
    },
  }
  resetForReruns(project as unknown as TestProject, lab)
  const change = async (file: string) => {
    ;(vitest.watcher as { changedTests: Set<string> }).changedTests.add(file)
    watcher.emit('change', file)
    await new Promise((resolve) => setImmediate(resolve))
  }
  const rerun = async (projectName = 'seed') => {
    ;(vitest.watcher as { changedTests: Set<string> }).changedTests.clear()
    for (const listener of reruns) await listener([{ project: { name: projectName } }])
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve))
  /** The run's end, with a module of each project named and whether it passed. */
  const runEnd = (modules: [string, boolean][], reason = 'passed', errors: unknown[] = []) => {
    for (const reporter of reporters) reporter.onTestRunEnd(modules.map(([projectName, ok]) => ({ project: { name: projectName }, ok: () => ok })), errors, reason)
  }
  return { vitest, change, rerun, resets, settle, runEnd }
}

describe('resets for watch-mode reruns', () => {
  test('a change while no run is in progress starts the reset at once; the rerun during it asks for none', async () => {
    const { change, rerun, resets } = setUp()
    await change('/p/specs/seed.spec.ts')
    expect(resets.map((reset) => reset.ifUsed)).toEqual([false])
    await rerun()
    expect(resets).toHaveLength(1)
    resets[0]!.finish()
  })

  test('a reset begun at a change and done before the rerun: the rerun resets only if the guests were used since', async () => {
    const { change, rerun, resets, settle } = setUp()
    await change('/p/specs/seed.spec.ts')
    resets[0]!.finish()
    await settle()
    await rerun()
    expect(resets.map((reset) => reset.ifUsed)).toEqual([false, true])
  })

  test('a change during a run, or to another project\'s file, leaves the reset to the rerun', async () => {
    const { vitest, change, rerun, resets } = setUp()
    vitest.runningPromise = new Promise(() => {})
    await change('/p/specs/seed.spec.ts')
    expect(resets).toEqual([])
    vitest.runningPromise = undefined
    await rerun()
    expect(resets.map((reset) => reset.ifUsed)).toEqual([false])
    await change('/p/other/other.spec.ts')
    await rerun('other')
    expect(resets).toHaveLength(1)
  })

  test('a run whose files of the project all passed starts the next reset at its end; the change and the rerun after it ask for none', async () => {
    const { change, rerun, resets, settle, runEnd } = setUp()
    runEnd([['seed', true], ['other', false]], 'failed')
    expect(resets.map((reset) => reset.ifUsed)).toEqual([true])
    await change('/p/specs/seed.spec.ts')
    await rerun()
    expect(resets).toHaveLength(1)
    resets[0]!.finish()
    await settle()
    // Done before the next change: that change starts nothing, the rerun resets only if used since.
    runEnd([['seed', true]])
    expect(resets).toHaveLength(2)
    resets[1]!.finish()
    await settle()
    await change('/p/specs/seed.spec.ts')
    await rerun()
    expect(resets.map((reset) => reset.ifUsed)).toEqual([true, true, true])
  })

  test('a failed, interrupted or errored run, or one without the project\'s files, leaves the guests as they are until the change', async () => {
    const { change, resets, runEnd } = setUp()
    runEnd([['seed', true], ['seed', false]])
    runEnd([['seed', true]], 'interrupted')
    runEnd([['seed', true]], 'passed', [new Error('unhandled')])
    runEnd([['other', true]])
    expect(resets).toEqual([])
    await change('/p/specs/seed.spec.ts')
    expect(resets.map((reset) => reset.ifUsed)).toEqual([false])
  })

  test('without Vitest\'s running-run field and reporters, every reset begins with its rerun', async () => {
    const { change, rerun, resets, runEnd } = setUp({ internals: false })
    runEnd([['seed', true]])
    await change('/p/specs/seed.spec.ts')
    expect(resets).toEqual([])
    await rerun()
    await rerun()
    expect(resets.map((reset) => reset.ifUsed)).toEqual([false, false])
  })
})
