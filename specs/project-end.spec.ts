import { expect, test } from 'vitest'
import { runWithMarks } from './support/fixture-run.js'

// A lab lives as long as its project's files: in a run with two lab projects, the one
// whose files are done stops its lab (its QEMU gone) while the other still tests.

test("a project's lab stops once its last file has run, before the other project is done", { timeout: 240_000 }, async () => {
  const { exitCode, output, mark } = await runWithMarks('project-end-run')
  expect(exitCode, output).toBe(0)
  expect(output).toMatch(/Tests\s+2 passed/)
  expect(output).toContain('the files of project brief have run: stopping its lab')
  expect(mark('long')).toBe('brief stopped first')
})
