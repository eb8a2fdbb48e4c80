import type { TestModule, TestProject } from 'vitest/node'
import { listenToRuns } from './run-reporter.js'

// A lab is needed only while its project's test files run: in a config with several lab
// projects, one whose files have all finished gives its memory back at once instead of
// at the end of the whole run. Vitest has no per-project end event, so this counts the
// run's files of the project (its test glob over the run's paths) as their modules end
// (run-reporter.ts).

interface RunningVitest {
  state?: { getPaths?: () => string[] }
}

/**
 * Calls `onEnd` once every test file of this run that belongs to `project` has finished.
 * Returns false (and never calls it) when the run's files cannot be told: then the lab
 * lives until the global teardown, as before.
 */
export function whenProjectFilesEnd(project: TestProject, onEnd: () => void): boolean {
  const vitest = project.vitest as unknown as RunningVitest
  const paths = vitest.state?.getPaths?.()
  if (!Array.isArray(paths) || typeof project.matchesTestGlob !== 'function') return false
  const expected = new Set(paths.filter((path) => project.matchesTestGlob(path)))
  if (expected.size === 0) return false
  const ended = new Set<string>()
  let told = false
  return listenToRuns(project, {
    onTestModuleEnd(module: TestModule) {
      if (told || module.project.name !== project.name || !expected.has(module.moduleId)) return
      ended.add(module.moduleId)
      if (ended.size < expected.size) return
      told = true
      onEnd()
    },
  })
}
