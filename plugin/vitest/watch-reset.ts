import type { TestProject } from 'vitest/node'
import type { StartedLab } from '../lab/lab.js'
import { info, seconds } from '../common/log.js'

// Watch mode: every rerun of a project's files first brings its guests back to their state
// right after boot. Vitest reruns a change 100 ms after it (its debounce), and tells the
// project only then; so when no run is in progress, the reset begins at the change itself,
// and the rerun finds it under way or done. Whether a run is in progress is Vitest's
// `runningPromise`, which is not public: where it is missing, resets begin with the rerun.

interface WatchingVitest {
  runningPromise?: Promise<unknown>
  watcher?: { changedTests?: Set<string> }
  vite?: { watcher?: { on(event: 'change', listener: (file: string) => void): unknown } }
  getModuleSpecifications?: (moduleId: string) => { project: { name: string } }[]
}

type Reset = Pick<StartedLab, 'beginReset'>

/** Resets the project's guests before each rerun of its files, from the change that causes it where it can. */
export function resetForReruns(project: TestProject, lab: Reset): void {
  const name = project.name
  /** A reset begun at a change, since this project's last run. */
  let early: { settled: boolean } | undefined

  const begin = (ifUsed: boolean) => {
    const begun = lab.beginReset({ ifUsed })
    const done = begun.then(({ done }) => done)
    done.then(
      (ms) => ms > 0 && info(`guests reset for the rerun in ${seconds(ms)}`),
      (error: Error) => info(error.message),
    )
    return { begun, done }
  }

  project.onTestsRerun(async (specifications) => {
    if (!specifications.some((specification) => specification.project.name === name)) return
    const before = early
    early = undefined
    // Begun at the change: the workers' requests wait for it, as for any reset.
    if (before && !before.settled) return
    // Done before the rerun came (a rerun held back by a run in progress, or by a filter):
    // again only if the guests were used since.
    // The workers start meanwhile; their first request to the lab waits for the reset.
    await begin(before !== undefined).begun
  })

  const vitest = project.vitest as unknown as WatchingVitest
  const watcher = vitest.vite?.watcher
  if (!('runningPromise' in vitest) || !watcher || !vitest.watcher?.changedTests || typeof vitest.getModuleSpecifications !== 'function') return
  watcher.on('change', () => {
    // After Vitest's own listener has put the files the change reruns in `changedTests`.
    setImmediate(() => {
      if (early || vitest.runningPromise) return
      const ours = [...vitest.watcher!.changedTests!].some((file) => vitest.getModuleSpecifications!(file).some((specification) => specification.project.name === name))
      if (!ours) return
      const started = { settled: false }
      early = started
      void begin(false).done.finally(() => (started.settled = true)).catch(() => {})
    })
  })
}
