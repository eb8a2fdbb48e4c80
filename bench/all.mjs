// npm run bench [-- --rounds 5] [--scale 1,2,4,8,16 | --quick]: the seed overhead and
// snapshot restore (seed-overhead.mjs), watch mode's rerun (watch-rerun.mjs), per-test
// isolation's cost (isolation.mjs), then the scale figures (scale.mjs); --quick leaves out
// the last. Ends with the speed goals against this run's figures (speed-goals.mjs).
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeSpeedGoals } from './speed-goals.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const argv = process.argv.slice(2)
const started = Date.now()
const option = (name) => (argv.includes(name) ? [name, argv[argv.indexOf(name) + 1]] : [])

function run(script, args) {
  const result = spawnSync(process.execPath, [join(here, script), ...args], { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

run('seed-overhead.mjs', option('--rounds'))
run('watch-rerun.mjs', [])
run('isolation.mjs', option('--rounds'))
if (!argv.includes('--quick')) run('scale.mjs', option('--scale'))
writeSpeedGoals(join(here, 'results'), started)
