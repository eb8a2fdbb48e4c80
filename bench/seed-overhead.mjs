// The first part of npm run bench [-- --rounds 5]: the plugin against the seed recipe done by hand.
// Alternates, in one run, (a) bench/baseline-seed.sh (bridge, taps, two guests with the
// same images and QEMU flags, wait for their shells, a ping each way, teardown) and (b)
// `vitest run` of the seed scenario with the plugin; prints medians, the ratio b/a and
// the plugin's boot stages; writes bench/results/seed-overhead.json and .svg.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureDefaultImage } from '../dist/index.js'
import { median } from './median.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const roundsAt = process.argv.indexOf('--rounds')
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 5
const image = await ensureDefaultImage('x86_64')

function timed(command, args, env = {}) {
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1', ...env } })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`)
  return { ms, output: `${result.stdout}\n${result.stderr}` }
}


const baseline = []
const plugin = []
const stages = []
for (let round = 1; round <= rounds; round++) {
  baseline.push(timed('bash', ['bench/baseline-seed.sh', image.kernel, image.initrd]).ms)
  const run = timed(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-seed'])
  plugin.push(run.ms)
  const stage = {}
  for (const match of run.output.matchAll(/(guest[AB]): (qemu|console|restore|shell|ssh) ready after ([\d.]+) s/g)) stage[`${match[1]} ${match[2]}`] = Number(match[3]) * 1000
  const ready = /lab ready in ([\d.]+) s/.exec(run.output)
  if (ready) stage['lab ready'] = Number(ready[1]) * 1000
  stages.push(stage)
  console.log(`round ${round}/${rounds}: baseline ${(baseline.at(-1) / 1000).toFixed(2)} s, plugin ${(plugin.at(-1) / 1000).toFixed(2)} s`)
}

// Snapshots, in the same run: the seed lab's time to ready when it boots cold (the rounds
// above) and when restored from snapshots (saved by one more run first).
const snapshotEnv = { VITEST_QEMU_SNAPSHOTS: '1' }
timed(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-seed'], snapshotEnv)
const restoredReady = []
const restoredTotal = []
for (let round = 1; round <= rounds; round++) {
  const run = timed(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-seed'], snapshotEnv)
  if (!/guest[AB]\s+restored/.test(run.output) || /guest[AB]\s+cold/.test(run.output)) throw new Error(`the guests were not restored from their snapshots:\n${run.output}`)
  restoredReady.push(Number(/lab ready in ([\d.]+) s/.exec(run.output)[1]) * 1000)
  restoredTotal.push(run.ms)
  console.log(`snapshot round ${round}/${rounds}: lab ready in ${(restoredReady.at(-1) / 1000).toFixed(2)} s, command ${(run.ms / 1000).toFixed(2)} s`)
}
const coldReady = median(stages.map((stage) => stage['lab ready']))

const summary = {
  date: new Date().toISOString(),
  snapshots: {
    coldReadyMedianMs: coldReady,
    restoredReadyMedianMs: median(restoredReady),
    readyRatio: median(restoredReady) / coldReady,
    restoredCommandMedianMs: median(restoredTotal),
    samplesMs: { restoredReady, restoredTotal },
  },
  rounds,
  medianMs: { baseline: median(baseline), plugin: median(plugin) },
  ratio: median(plugin) / median(baseline),
  samplesMs: { baseline, plugin },
  pluginStagesMedianMs: Object.fromEntries(Object.keys(stages[0] ?? {}).map((key) => [key, median(stages.map((stage) => stage[key]).filter((value) => value !== undefined))])),
}
console.log(`\nseed scenario, command to green, median of ${rounds} (alternating):`)
console.log(`  baseline (by hand)  ${(summary.medianMs.baseline / 1000).toFixed(2)} s`)
console.log(`  plugin (vitest run) ${(summary.medianMs.plugin / 1000).toFixed(2)} s`)
console.log(`  ratio plugin / baseline ${summary.ratio.toFixed(2)}`)
console.log(`snapshots: seed lab ready in ${(summary.snapshots.restoredReadyMedianMs / 1000).toFixed(2)} s restored vs ${(coldReady / 1000).toFixed(2)} s cold: ratio ${summary.snapshots.readyRatio.toFixed(2)}; command to green ${(summary.snapshots.restoredCommandMedianMs / 1000).toFixed(2)} s`)
console.log('plugin boot stages (median ms since QEMU started; lab ready since setup began):')
for (const [key, value] of Object.entries(summary.pluginStagesMedianMs)) console.log(`  ${key.padEnd(16)} ${Math.round(value)}`)

const out = join(root, 'bench', 'results')
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'seed-overhead.json'), `${JSON.stringify(summary, null, 2)}\n`)
const bars = [['by hand', summary.medianMs.baseline], ['plugin', summary.medianMs.plugin], ['restored', summary.snapshots.restoredCommandMedianMs]]
const scale = 360 / Math.max(...bars.map(([, value]) => value))
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="560" height="170" font-family="sans-serif" font-size="13">
<text x="10" y="20">seed scenario, median command to green (${rounds} rounds): plugin / by hand ${summary.ratio.toFixed(2)}; restored from snapshots</text>
${bars.map(([name, value], index) => `<text x="10" y="${55 + index * 40}">${name}</text><rect x="80" y="${40 + index * 40}" width="${(value * scale).toFixed(1)}" height="22" fill="${index ? '#4a7' : '#888'}"/><text x="${(85 + value * scale).toFixed(1)}" y="${55 + index * 40}">${(value / 1000).toFixed(2)} s</text>`).join('\n')}
</svg>
`
writeFileSync(join(out, 'seed-overhead.svg'), svg)
console.log(`\nwrote ${join('bench', 'results', 'seed-overhead.json')} and .svg`)
