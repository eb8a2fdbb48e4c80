// npm run bench:watch [-- --reruns 5]: watch mode's loop. Starts `vitest --watch` on the
// seed scenario (specs/fixtures/watch-run: the seed's checks, plus a mark in a guest that a
// rerun must not find), then touches the spec file again and again and measures each
// rerun from the touch until Vitest reports the run green. A green run's guests are reset
// at its end (watch-reset.ts); each touch comes after that reset is done, as a person's
// edit would (the reset's own time is printed beside). Prints the medians; writes
// bench/results/watch-rerun.json.
import { spawn } from 'node:child_process'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { median } from './median.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const rerunsAt = process.argv.indexOf('--reruns')
const reruns = rerunsAt > 0 ? Number(process.argv[rerunsAt + 1]) : 5
const spec = join(root, 'specs', 'fixtures', 'watch-run', 'seed.fixture.ts')

const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', '--watch', '--root', 'specs/fixtures/watch-run'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
let output = ''
const onOutput = (chunk) => (output += stripVTControlCharacters(chunk.toString()))
child.stdout.on('data', onOutput)
child.stderr.on('data', onOutput)
const reports = () => output.split('Waiting for file changes').length - 1
const resetsAfterRuns = () => [...output.matchAll(/guests reset for the next run in ([\d.]+) s/g)].map((match) => Number(match[1]) * 1000)

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const samples = []
try {
  await until(() => reports() >= 1, 180_000, 'the first run')
  for (let rerun = 1; rerun <= reruns; rerun++) {
    await until(() => resetsAfterRuns().length >= rerun, 30_000, `the reset after run ${rerun}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = reports()
    const started = performance.now()
    const now = new Date()
    utimesSync(spec, now, now)
    await until(() => reports() > before, 60_000, `rerun ${rerun}`)
    samples.push(performance.now() - started)
    const last = output.slice(output.lastIndexOf('Test Files'))
    if (!/Tests\s+1 passed/.test(last) || /failed/.test(last)) throw new Error(`rerun ${rerun} was not green:\n${output}`)
    console.log(`rerun ${rerun}/${reruns}: ${(samples.at(-1) / 1000).toFixed(2)} s from the touch to green`)
  }
} finally {
  child.kill('SIGINT')
  await new Promise((resolve) => child.once('exit', resolve))
}

const rerunMedian = median(samples)
const resets = resetsAfterRuns()
console.log(`\nwatch mode, seed spec rerun after a touch: median ${(rerunMedian / 1000).toFixed(2)} s of ${reruns} (the guests' reset after each green run, before the touch: median ${(median(resets) / 1000).toFixed(2)} s)`)
mkdirSync(join(root, 'bench', 'results'), { recursive: true })
writeFileSync(join(root, 'bench', 'results', 'watch-rerun.json'), `${JSON.stringify({ date: new Date().toISOString(), reruns, medianMs: rerunMedian, samplesMs: samples, resetMs: resets }, null, 2)}\n`)
