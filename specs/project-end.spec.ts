import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { expect, test } from 'vitest'
import { startFixtureRun } from './support/fixture-run.js'

// A lab lives as long as its project's files: in a run with two lab projects, the one
// whose files are done stops its lab (its QEMU gone) while the other still tests.

test("a project's lab stops once its last file has run, before the other project is done", { timeout: 240_000 }, async () => {
  const marks = mkdtempSync(join(tmpdir(), 'vq-project-end-'))
  const run = startFixtureRun('project-end-run', [], { VQ_MARKS: marks })
  const result = await run.process
  const output = stripVTControlCharacters(result.all)
  expect(result.exitCode, output).toBe(0)
  expect(output).toMatch(/Tests\s+2 passed/)
  expect(output).toContain('the files of project brief have run: stopping its lab')
  expect(readFileSync(join(marks, 'long'), 'utf8')).toBe('brief stopped first')
})
