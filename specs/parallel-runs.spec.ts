import { describe, expect, test } from 'vitest'
import { startFixtureRun } from './support/fixture-run.js'

// Runs never collide: each has its own namespace, names and sockets, so the same
// topology (same bridge name, IPs and MACs) can run twice at once on one host.

async function bothPass(argsA: string[], argsB: string[]): Promise<void> {
  const runs = [startFixtureRun('parallel-run', argsA), startFixtureRun('parallel-run', argsB)]
  const results = await Promise.all(runs.map((run) => run.process))
  for (const result of results) expect(result.exitCode, result.all).toBe(0)
}

describe('parallel runs', { timeout: 180_000 }, () => {
  test('two runs of the same topology at once both pass, each with three spec files sharing its guests', async () => {
    await bothPass([], [])
  })

  test('vitest --shard=1/2 and --shard=2/2 at once both pass', async () => {
    await bothPass(['--shard=1/2'], ['--shard=2/2'])
  })
})
