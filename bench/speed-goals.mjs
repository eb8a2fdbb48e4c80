// The speed goals against what this run of `npm run bench` measured: one table, written to
// bench/results/speed.json and drawn in speed.svg. A figure is taken only from a result
// file written during this run (`--quick` measures no scale figures: they are left out).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const read = (dir, name, since) => {
  const path = join(dir, name)
  if (!existsSync(path)) return undefined
  const result = JSON.parse(readFileSync(path, 'utf8'))
  return Date.parse(result.date) >= since ? result : undefined
}

/** Rows of { figure, goal, measured, unit, met }, from the result files written since `since` (ms). */
export function speedGoals(dir, since) {
  const seed = read(dir, 'seed-overhead.json', since)
  const watch = read(dir, 'watch-rerun.json', since)
  const isolation = read(dir, 'isolation.json', since)
  const scale = read(dir, 'scale.json', since)
  const rows = [
    { figure: "cold overhead over Vitest's floor: (plugin - bare vitest) / by hand", goal: 1.05, measured: seed?.overVitestFloorRatio, unit: '', rounds: seed?.roundRatios?.overVitestFloor },
    { figure: 'second run, default settings: plugin / by hand', goal: 0.6, measured: seed?.secondRunRatio, unit: '', rounds: seed?.roundRatios?.secondRun },
    { figure: 'watch rerun after touching the seed spec', goal: 0.6, measured: watch && watch.medianMs / 1000, unit: 's' },
    { figure: "isolation: 'per-test', added per test (two guests)", goal: 0.5, measured: isolation && isolation.addedPerTestMs / 1000, unit: 's' },
    {
      figure: '16 default guests, second run, full mesh green',
      goal: 10,
      measured: scale?.secondRun && scale.secondRun.n === 16 ? scale.secondRun.timeToGreenMs / 1000 : undefined,
      unit: 's',
      // A mesh that was not verified is no green run, however fast.
      failed: scale?.secondRun && !scale.secondRun.green ? `the mesh was not verified: ${scale.secondRun.failures.map((failure) => `${failure.from}->${failure.to}`).join(', ')} unreached` : undefined,
    },
  ]
  return rows.map((row) => ({ ...row, met: row.measured === undefined ? undefined : !row.failed && row.measured <= row.goal }))
}

export function printSpeedGoals(rows) {
  console.log('\nspeed goals (lower is better):')
  for (const row of rows) {
    // Ratios with a third decimal: a ratio just over its goal must not print as the goal itself.
    const digits = row.unit ? 2 : 3
    const measured = row.measured === undefined ? 'not measured in this run' : `${row.measured.toFixed(digits)}${row.unit && ` ${row.unit}`}`
    const verdict = row.met === undefined ? '' : row.met ? '  met' : '  NOT met'
    // The median decides; the rounds' own ratios show how much of the margin is the host's noise.
    const rounds = row.rounds?.length ? `; rounds ${Math.min(...row.rounds).toFixed(2)}-${Math.max(...row.rounds).toFixed(2)}` : ''
    console.log(`  ${row.figure}: ${measured}${row.failed ? `, but ${row.failed}` : ''} (goal ${row.goal}${row.unit && ` ${row.unit}`}${rounds})${verdict}`)
  }
}

/** One bar per figure, as a share of its goal (the line at 100 %); figures not measured are left out. */
export function speedGoalsSvg(rows) {
  const shown = rows.filter((row) => row.measured !== undefined)
  const width = 300
  const at = (share) => 470 + Math.min(share, 2) * (width / 2)
  const bars = shown
    .map((row, index) => {
      const y = 40 + index * 34
      const share = row.measured / row.goal
      return `<text x="10" y="${y + 15}">${escapeXml(row.figure)}</text><rect x="470" y="${y}" width="${(at(share) - 470).toFixed(1)}" height="20" fill="${row.met ? '#4a7' : '#c54'}"/><text x="${(at(share) + 5).toFixed(1)}" y="${y + 15}">${row.measured.toFixed(row.unit ? 2 : 3)}${row.unit} / ${row.goal}${row.unit}</text>`
    })
    .join('\n')
  const height = 60 + shown.length * 34
  return `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="${height}" font-family="sans-serif" font-size="12">
<text x="10" y="20">npm run bench: each figure against its goal (the line: the goal; green: met)</text>
${bars}
<line x1="${at(1)}" y1="32" x2="${at(1)}" y2="${height - 10}" stroke="#333" stroke-dasharray="4 3"/>
</svg>
`
}

function escapeXml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;')
}

export function writeSpeedGoals(dir, since) {
  const rows = speedGoals(dir, since)
  printSpeedGoals(rows)
  writeFileSync(join(dir, 'speed.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, goals: rows }, null, 2)}\n`)
  writeFileSync(join(dir, 'speed.svg'), speedGoalsSvg(rows))
  console.log(`wrote ${join('bench', 'results', 'speed.json')} and .svg`)
}
