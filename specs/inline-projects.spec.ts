import { readdirSync } from 'node:fs'
import { expect, test } from 'vitest'
import { runWithMarks } from './support/fixture-run.js'

// Vitest 5's inline projects inherit the root config (`extends: true` by default): a run
// with two projects that declare a lab and one that does not boots exactly two labs, each
// project's tests see their own, and the third sees none.

test('inline projects: one lab per project that declares qemuLab, none for the one that does not', { timeout: 180_000 }, async () => {
  const { exitCode, output, mark, runtimeRoot } = await runWithMarks('inline-projects-run')
  expect(exitCode, output).toBe(0)
  expect(output).toMatch(/Tests\s+3 passed/)
  expect(output.match(/lab ready in/g), output).toHaveLength(2)
  expect(mark('east')).not.toBe(mark('west'))
  expect(mark('plain')).toBe('no lab')
  expect(readdirSync(runtimeRoot)).toEqual([])
})
