import { mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { expect, test } from 'vitest'
import { startFixtureRun } from './support/fixture-run.js'

// Vitest 5's inline projects inherit the root config (`extends: true` by default): a run
// with two projects that declare a lab and one that does not boots exactly two labs, each
// project's tests see their own, and the third sees none.

test('inline projects: one lab per project that declares qemuLab, none for the one that does not', { timeout: 180_000 }, async () => {
  const marks = mkdtempSync(join(tmpdir(), 'vq-inline-marks-'))
  const run = startFixtureRun('inline-projects-run', [], { VQ_MARKS: marks })
  const result = await run.process
  const output = stripVTControlCharacters(result.all)
  expect(result.exitCode, output).toBe(0)
  expect(output).toMatch(/Tests\s+3 passed/)
  expect(output.match(/lab ready in/g), output).toHaveLength(2)
  const east = readFileSync(join(marks, 'east'), 'utf8')
  const west = readFileSync(join(marks, 'west'), 'utf8')
  expect(east).not.toBe(west)
  expect(readFileSync(join(marks, 'plain'), 'utf8')).toBe('no lab')
  expect(readdirSync(run.runtimeRoot)).toEqual([])
})
