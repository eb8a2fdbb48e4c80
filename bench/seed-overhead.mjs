// The first part of npm run bench [-- --rounds 5]: the plugin against the seed recipe done by hand.
// Alternates, in one run, (a) bench/baseline-seed.sh (bridge, taps, two guests with the
// same images and QEMU flags, wait for their shells, a ping each way, teardown), (b)
// `vitest run` of the seed scenario with the plugin, booting cold (snapshots off), (c) a
// bare `vitest run` of one trivial test without any lab (Vitest's own floor, with Node's
// compile cache turned on as the plugin turns it on for its runs: bench-bare's config) and (d) the
// seed scenario with default settings on a second run (restored from the snapshots a
// first run saved). Prints medians, the ratios b/a, (b-c)/a and d/a, and the plugin's
// boot stages; writes bench/results/seed-overhead.json and .svg.
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
const bare = []
const stages = []
const cold = { VITEST_QEMU_SNAPSHOTS: '0' }
// Default settings: snapshots on, whatever the calling shell says.
const defaults = { VITEST_QEMU_SNAPSHOTS: '' }
const seedRun = (env) => timed(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-seed'], env)
// The first run with default settings saves the snapshots the second runs restore.
seedRun(defaults)
const restoredReady = []
const restoredTotal = []
for (let round = 1; round <= rounds; round++) {
  baseline.push(timed('bash', ['bench/baseline-seed.sh', image.kernel, image.initrd]).ms)
  const run = seedRun(cold)
  plugin.push(run.ms)
  const stage = {}
  for (const match of run.output.matchAll(/(guest[AB]): (qemu|console|restore|shell|ssh) ready after ([\d.]+) s/g)) stage[`${match[1]} ${match[2]}`] = Number(match[3]) * 1000
  const ready = /lab ready in ([\d.]+) s/.exec(run.output)
  if (ready) stage['lab ready'] = Number(ready[1]) * 1000
  stages.push(stage)
  bare.push(timed(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--root', 'specs/fixtures/bench-bare']).ms)
  const second = seedRun(defaults)
  if (!/guest[AB]\s+restored/.test(second.output) || /guest[AB]\s+cold/.test(second.output)) throw new Error(`the guests were not restored from their snapshots:\n${second.output}`)
  restoredReady.push(Number(/lab ready in ([\d.]+) s/.exec(second.output)[1]) * 1000)
  restoredTotal.push(second.ms)
  console.log(
    `round ${round}/${rounds}: by hand ${(baseline.at(-1) / 1000).toFixed(2)} s, plugin cold ${(plugin.at(-1) / 1000).toFixed(2)} s, bare vitest ${(bare.at(-1) / 1000).toFixed(2)} s, second run ${(second.ms / 1000).toFixed(2)} s (lab ready ${(restoredReady.at(-1) / 1000).toFixed(2)} s)`,
  )
}
const spread = (ratios) => ratios.map((ratio) => ratio.toFixed(2)).join(' ')
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
  medianMs: { baseline: median(baseline), plugin: median(plugin), bare: median(bare), secondRun: median(restoredTotal) },
  ratio: median(plugin) / median(baseline),
  /** What the plugin adds to Vitest's own floor, against the recipe by hand. */
  overVitestFloorRatio: (median(plugin) - median(bare)) / median(baseline),
  secondRunRatio: median(restoredTotal) / median(baseline),
  samplesMs: { baseline, plugin, bare, secondRun: restoredTotal },
  /** The two ratios of each round on its own (its runs one after the other): how far the host's noise moves them. */
  roundRatios: {
    overVitestFloor: baseline.map((hand, round) => (plugin[round] - bare[round]) / hand),
    secondRun: baseline.map((hand, round) => restoredTotal[round] / hand),
  },
  pluginStagesMedianMs: Object.fromEntries(Object.keys(stages[0] ?? {}).map((key) => [key, median(stages.map((stage) => stage[key]).filter((value) => value !== undefined))])),
}
console.log(`\nseed scenario, command to green, median of ${rounds} (alternating):`)
console.log(`  baseline (by hand)  ${(summary.medianMs.baseline / 1000).toFixed(2)} s`)
console.log(`  plugin (vitest run) ${(summary.medianMs.plugin / 1000).toFixed(2)} s`)
console.log(`  ratio plugin / baseline ${summary.ratio.toFixed(2)}`)
console.log(`  bare vitest run, one trivial test, no lab ${(summary.medianMs.bare / 1000).toFixed(2)} s`)
console.log(`  cold overhead over Vitest's floor: (plugin - bare) / baseline ${summary.overVitestFloorRatio.toFixed(2)}`)
console.log(`  second run, default settings (restored): ${(summary.medianMs.secondRun / 1000).toFixed(2)} s, ratio to baseline ${summary.secondRunRatio.toFixed(2)}`)
console.log(`  each round's ratios: cold overhead ${spread(summary.roundRatios.overVitestFloor)}, second run ${spread(summary.roundRatios.secondRun)}`)
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
