import type { TestModule, TestProject } from 'vitest/node'

// Vitest has no public per-project event for a run's progress: the plugin hears it through a
// reporter added to the running instance's reporters, as Vitest adds its own API reporter.
// The list is not public; where it is missing, nothing is heard.

export interface RunListener {
  onTestModuleEnd?(module: TestModule): void
  onTestRunEnd?(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>, reason?: string): void
}

/** Adds `listener` to the run's reporters; false when the running Vitest has no such list. */
export function listenToRuns(project: TestProject, listener: RunListener): boolean {
  const reporters = (project.vitest as unknown as { reporters?: unknown[] }).reporters
  if (!Array.isArray(reporters)) return false
  reporters.push(listener)
  return true
}
