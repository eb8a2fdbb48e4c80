// npm run bench:isolation [-- --rounds 3]: what `isolation: 'per-test'` adds per test. Runs
// specs/fixtures/bench-isolation (six tests that each use both guests) with isolation
// 'shared' and 'per-test', alternating, and compares the test file's duration as Vitest
// reports it (boot excluded). Prints the medians and the cost per test; writes
// bench/results/isolation.json.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median } from './median.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const roundsAt = process.argv.indexOf('--rounds')
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 3
const TESTS = 6
const scratch = mkdtempSync(join(tmpdir(), 'vq-bench-isolation-'))

/** The test file's duration in ms, from Vitest's JSON report. */
function fileDuration(isolation, round) {
  const report = join(scratch, `${isolation}-${round}.json`)
  const result = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-isolation', '--reporter=json', `--outputFile=${report}`], {
    cwd: root,
    env: { ...process.env, VQ_BENCH_ISOLATION: isolation },
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`the ${isolation} run failed:\n${result.stdout}\n${result.stderr}`)
  const { testResults, numPassedTests } = JSON.parse(readFileSync(report, 'utf8'))
  if (numPassedTests !== TESTS) throw new Error(`the ${isolation} run passed ${numPassedTests} of ${TESTS} tests`)
  return testResults[0].endTime - testResults[0].startTime
}

const samples = { shared: [], 'per-test': [] }
try {
  for (let round = 1; round <= rounds; round++) {
    for (const isolation of ['shared', 'per-test']) {
      samples[isolation].push(fileDuration(isolation, round))
      console.log(`round ${round}/${rounds}, ${isolation}: ${(samples[isolation].at(-1) / 1000).toFixed(2)} s for ${TESTS} tests`)
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const shared = median(samples.shared)
const perTest = median(samples['per-test'])
const addedPerTest = (perTest - shared) / TESTS
console.log(`\nisolation 'per-test', two guests used by each of ${TESTS} tests: ${(perTest / 1000).toFixed(2)} s against ${(shared / 1000).toFixed(2)} s shared (medians of ${rounds}): ${(addedPerTest / 1000).toFixed(2)} s added per test`)
mkdirSync(join(root, 'bench', 'results'), { recursive: true })
writeFileSync(join(root, 'bench', 'results', 'isolation.json'), `${JSON.stringify({ date: new Date().toISOString(), rounds, tests: TESTS, sharedMs: samples.shared, perTestMs: samples['per-test'], addedPerTestMs: addedPerTest }, null, 2)}\n`)
