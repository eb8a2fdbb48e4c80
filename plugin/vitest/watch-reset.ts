import type { TestProject } from 'vitest/node'
import { listenToRuns } from './run-reporter.js'
import type { StartedLab } from '../lab/lab.js'
import { info, seconds } from '../common/log.js'

// Watch mode: every rerun of a project's files first brings its guests back to their state
// right after boot. After a run in which the project's files all passed, that reset begins
// at once, while the person edits, so the next rerun finds it done; a failed run's guests
// are left as its tests left them, for `vitest-qemu console` and `ssh`, until the next
// change. Vitest reruns a change 100 ms after it (its debounce), and tells the project only
// then; so when no run is in progress, that reset begins at the change itself, and the
// rerun finds it under way or done. Whether a run is in progress is Vitest's
// `runningPromise`, and the run's end is heard through its reporters (run-reporter.ts):
// neither is public; where they are missing, resets begin with the rerun.

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
  /** A reset begun ahead (at a green run's end or at a change), since this project's last rerun. */
  let early: { settled: boolean } | undefined

  const begin = (ifUsed: boolean, forWhat = 'the rerun') => {
    const begun = lab.beginReset({ ifUsed })
    const done = begun.then(({ done }) => done)
    done.then(
      (ms) => ms > 0 && info(`guests reset for ${forWhat} in ${seconds(ms)}`),
      (error: Error) => info(error.message),
    )
    return { begun, done }
  }
  const beginEarly = (ifUsed: boolean, forWhat?: string) => {
    const started = { settled: false }
    early = started
    void begin(ifUsed, forWhat).done.finally(() => (started.settled = true)).catch(() => {})
  }

  project.onTestsRerun(async (specifications) => {
    if (!specifications.some((specification) => specification.project.name === name)) return
    const before = early
    early = undefined
    // Begun ahead and still under way: the workers' requests wait for it, as for any reset.
    if (before && !before.settled) return
    // Done before the rerun came (at the last run's end, or a change while a run held the
    // rerun back): again only if the guests were used since.
    // The workers start meanwhile; their first request to the lab waits for the reset.
    await begin(before !== undefined).begun
  })

  listenToRuns(project, {
    onTestRunEnd(modules, unhandledErrors, reason) {
      if (early || reason === 'interrupted' || unhandledErrors.length > 0) return
      const ours = modules.filter((module) => module.project.name === name)
      if (ours.length === 0 || !ours.every((module) => module.ok())) return
      // Only if the run used the guests: a run that did not leaves nothing to undo.
      beginEarly(true, 'the next run')
    },
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
      beginEarly(false)
    })
  })
}
