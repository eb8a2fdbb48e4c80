// npm run bench:scale [-- --scale 1,2,4,8,16]: how the lab scales with the number of
// guests. For each N, N default x86_64 guests on one bridge are started with the engine
// (startLab); every guest then pings every other one (one command per guest, all guests at
// once, through `guest.run`, the channel tests' commands take: the agent); time to green is
// startLab's start until that mesh is verified. Memory
// per guest, two ways: each QEMU's peak resident memory (VmHWM, read just before stop),
// which counts in full the pages all QEMUs share (QEMU's binary and libraries, the
// kernel image), and its peak proportional share (PSS from /proc/PID/smaps_rollup,
// sampled every 200 ms from boot to stop), which splits shared pages among their users:
// what one more guest costs the host. Each N boots cold (snapshots off); the largest N then
// runs twice more with default settings: once to save the snapshots, then the measured
// second run, restored from them. Prints a table; writes bench/results/scale.json and scale.svg.
import { readdirSync, readFileSync, readlinkSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { attachLab, ensureDefaultImage, startLab } from '../dist/index.js'
import { median } from './median.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const scaleAt = process.argv.indexOf('--scale')
const sizes = (scaleAt > 0 ? process.argv[scaleAt + 1] : '1,2,4,8,16').split(',').map(Number)
if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 200)) throw new Error(`--scale: expected sizes like 1,2,4,8,16, got ${process.argv[scaleAt + 1]}`)

// 16 cold TCG boots share 2 cores here: each boot stage may take ten times its default.
const TIMEOUT_MULTIPLIER = 10
const START_TIMEOUT_MS = 20 * 60_000
const PING_WAIT_S = 2
/** The bench's /24: its guests' addresses, and how its QEMUs are told from others. */
const NET = '10.66.0'

await ensureDefaultImage('x86_64')

const mib = (kib) => kib / 1024

function statusKib(pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`)
  return Number(match[1])
}

const memAvailableKib = () => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))[1])

function labConfig(n, snapshots) {
  const guests = {}
  for (let i = 1; i <= n; i++) guests[`g${String(i).padStart(2, '0')}`] = { bridge: 'br0', ip: `${NET}.${i}` }
  return { bridges: { br0: { subnet: `${NET}.0/24` } }, guests, timeoutMultiplier: TIMEOUT_MULTIPLIER, ...(snapshots ? {} : { snapshots: false }) }
}

// One command per guest: ping each other guest once, print the addresses that did not answer.
function meshCommand(others) {
  return `failed=; for ip in ${others.join(' ')}; do ping -c 1 -W ${PING_WAIT_S} $ip >/dev/null 2>&1 || failed="$failed $ip"; done; echo "unreached:$failed"`
}

// The bench's QEMU processes: their kernel command line names the bench's subnet.
function benchQemuPids() {
  const pids = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1')
      if (cmdline.startsWith('qemu-system-') && cmdline.includes(`ip=${NET}.`)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** Samples each bench QEMU's PSS until stopped; returns the peak per pid (KiB). */
function samplePss() {
  const peaks = new Map()
  const sample = () => {
    for (const pid of benchQemuPids()) {
      try {
        const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1])
        peaks.set(pid, Math.max(peaks.get(pid) ?? 0, pss))
      } catch {
        // exited meanwhile
      }
    }
  }
  const timer = setInterval(sample, 200)
  return {
    stop() {
      clearInterval(timer)
      sample()
      return peaks
    },
  }
}

let running
async function measure(n, { snapshots = false } = {}) {
  const availableBefore = memAvailableKib()
  const pss = samplePss()
  const started = performance.now()
  running = await startLab(labConfig(n, snapshots), { root, signal: AbortSignal.timeout(START_TIMEOUT_MS) })
  const labReadyMs = performance.now() - started
  const lab = attachLab(running.descriptor)
  try {
    const guests = running.descriptor.guests
    const meshStarted = performance.now()
    const failures = []
    await Promise.all(
      guests.map(async (guest) => {
        const others = guests.filter((other) => other !== guest).map((other) => other.ip)
        if (others.length === 0) return
        // Each ping waits at most PING_WAIT_S; 16 busy guests answer slowly: three times that per peer, and 30 s.
        const timeout = 30_000 + others.length * (PING_WAIT_S + 1) * 1000 * 3
        const result = await lab.guest(guest.name).run(meshCommand(others), { timeout }).catch((error) => ({ stdout: String(error.message) }))
        const line = /unreached:(.*)/.exec(result.stdout)
        if (!line) failures.push({ from: guest.name, to: 'all', output: result.stdout.trim() })
        else for (const ip of line[1].trim().split(/\s+/).filter(Boolean)) failures.push({ from: guest.name, to: guests.find((other) => other.ip === ip)?.name ?? ip })
      }),
    )
    const greenMs = performance.now() - started
    const meshMs = performance.now() - meshStarted

    const pssPeaks = pss.stop()
    const perGuest = guests.map((guest) => {
      // The descriptor's pid is that of setpriv, which execs QEMU: check that it is QEMU now.
      const exe = readlinkSync(`/proc/${guest.qemuPid}/exe`)
      if (!/qemu-system-/.test(exe)) throw new Error(`${guest.name}: pid ${guest.qemuPid} runs ${exe}, not QEMU`)
      // VmRSS splits into anonymous memory (guest RAM, TCG's cache) and file-backed pages (QEMU's binary and libraries, the initrd), which guests share.
      const kib = Object.fromEntries(['VmHWM', 'VmRSS', 'RssAnon', 'RssFile', 'RssShmem'].map((field) => [field, statusKib(guest.qemuPid, field)]))
      const pssPeakKib = pssPeaks.get(guest.qemuPid)
      if (!pssPeakKib) throw new Error(`${guest.name}: its QEMU (pid ${guest.qemuPid}) was never sampled`)
      return { name: guest.name, pid: guest.qemuPid, exe, pssPeakKib, vmHwmKib: kib.VmHWM, vmRssKib: kib.VmRSS, rssAnonKib: kib.RssAnon, rssFileKib: kib.RssFile, rssShmemKib: kib.RssShmem, sshReadyMs: guest.bootStages.ssh, booted: guest.booted }
    })
    const availableDropKib = availableBefore - memAvailableKib()
    const peaks = perGuest.map((guest) => mib(guest.vmHwmKib))
    const pssPeaksMib = perGuest.map((guest) => mib(guest.pssPeakKib))
    return {
      n,
      green: failures.length === 0,
      timeToGreenMs: Math.round(greenMs),
      labReadyMs: Math.round(labReadyMs),
      meshMs: Math.round(meshMs),
      failures,
      peakMibPerGuest: { max: Math.max(...peaks), median: median(peaks) },
      peakPssMibPerGuest: { max: Math.max(...pssPeaksMib), median: median(pssPeaksMib) },
      hostAvailableDropMib: mib(availableDropKib),
      guests: perGuest,
    }
  } finally {
    pss.stop()
    lab.close()
    await running.stop()
    running = undefined
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await running?.stop()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

const results = []
for (const n of sizes) {
  console.log(`\n== ${n} guest${n === 1 ? '' : 's'}`)
  const result = await measure(n)
  results.push(result)
  const failed = result.failures.map((failure) => `${failure.from}->${failure.to}`).join(', ')
  console.log(`${n} guests: ${result.green ? 'mesh verified' : `mesh FAILED (${failed})`} after ${(result.timeToGreenMs / 1000).toFixed(1)} s; per guest peak RSS ${result.peakMibPerGuest.max.toFixed(0)} MiB, peak PSS ${result.peakPssMibPerGuest.max.toFixed(0)} MiB`)
}

// The second run with default settings (snapshots on) of the largest lab.
const largest = Math.max(...sizes)
console.log(`\n== ${largest} guests, default settings: a first run saves the snapshots`)
await measure(largest, { snapshots: true })
const second = await measure(largest, { snapshots: true })
{
  const restored = second.guests.filter((guest) => guest.booted === 'restored').length
  if (restored !== largest) console.log(`note: only ${restored} of ${largest} guests were restored`)
  const failed = second.failures.map((failure) => `${failure.from}->${failure.to}`).join(', ')
  console.log(`${largest} guests, second run: ${second.green ? 'mesh verified' : `mesh FAILED (${failed})`} after ${(second.timeToGreenMs / 1000).toFixed(1)} s (lab ready ${(second.labReadyMs / 1000).toFixed(1)} s); per guest peak PSS ${second.peakPssMibPerGuest.max.toFixed(0)} MiB (median ${second.peakPssMibPerGuest.median.toFixed(0)})`)
}

const fixed = (value, digits = 1) => value.toFixed(digits)
const rows = [
  ['N', 'green', 'time to green s', 'lab ready s', 'mesh s', 'peak PSS MiB/guest max', 'median', 'peak RSS MiB/guest max', 'median', 'host MemAvailable drop MiB'],
  ...results.map((r) => [r.n, r.green ? 'yes' : `no (${r.failures.length} unreached)`, fixed(r.timeToGreenMs / 1000), fixed(r.labReadyMs / 1000), fixed(r.meshMs / 1000), fixed(r.peakPssMibPerGuest.max, 0), fixed(r.peakPssMibPerGuest.median, 0), fixed(r.peakMibPerGuest.max, 0), fixed(r.peakMibPerGuest.median, 0), fixed(r.hostAvailableDropMib, 0)]),
]
const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)))
console.log('\nscale: N default x86_64 guests on one bridge, full-mesh ping, TCG')
for (const row of rows) console.log(row.map((cell, column) => String(cell).padStart(widths[column])).join('  '))
for (const r of results) for (const failure of r.failures) console.log(`  N=${r.n}: ${failure.from} did not reach ${failure.to}${failure.output ? `: ${failure.output}` : ''}`)

const out = join(root, 'bench', 'results')
mkdirSync(out, { recursive: true })
const qemu = results[0]?.guests[0]?.exe
writeFileSync(join(out, 'scale.json'), `${JSON.stringify({ date: new Date().toISOString(), qemu, timeoutMultiplier: TIMEOUT_MULTIPLIER, results, secondRun: second }, null, 2)}\n`)
writeFileSync(join(out, 'scale.svg'), chart(results))
console.log(`\nwrote ${join('bench', 'results', 'scale.json')} and .svg`)

// Two panels over N: time to green (s), and peak MiB per guest (PSS max as points with
// values, RSS max dashed), with the 160 MiB goal.
function chart(results) {
  const width = 330
  const height = 220
  const niceStep = (top) => {
    const rough = top / 4
    const power = 10 ** Math.floor(Math.log10(rough))
    return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough)
  }
  const panel = (x0, title, series, unit, target) => {
    const step = niceStep(Math.max(...series.flatMap((s) => s.values), target ?? 0) * 1.1)
    const top = step * Math.ceil((Math.max(...series.flatMap((s) => s.values), target ?? 0) * 1.1) / step)
    const px = (index) => x0 + 60 + (results.length === 1 ? 0 : (index * (width - 90)) / (results.length - 1))
    const py = (value) => 45 + (height - 85) * (1 - value / top)
    const parts = [`<text x="${x0 + 10}" y="18" font-weight="bold">${title}</text>`]
    for (let value = 0; value <= top; value += step) {
      parts.push(`<line x1="${x0 + 45}" y1="${py(value)}" x2="${x0 + width - 20}" y2="${py(value)}" stroke="${value ? '#ddd' : '#444'}"/><text x="${x0 + 40}" y="${py(value) + 4}" text-anchor="end" font-size="10">${value}</text>`)
    }
    results.forEach((r, index) => parts.push(`<text x="${px(index)}" y="${height - 24}" text-anchor="middle" font-size="11">${r.n}</text>`))
    parts.push(`<text x="${x0 + 45 + (width - 65) / 2}" y="${height - 8}" text-anchor="middle" font-size="11">guests (N)</text>`)
    if (target) parts.push(`<line x1="${x0 + 45}" y1="${py(target)}" x2="${x0 + width - 20}" y2="${py(target)}" stroke="#c33" stroke-dasharray="4 3"/><text x="${x0 + width - 20}" y="${py(target) + 13}" text-anchor="end" font-size="10" fill="#c33">goal ${target} ${unit}</text>`)
    series.forEach((s, k) => {
      const points = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ')
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" ${k ? 'stroke-dasharray="5 3"' : ''} points="${points}"/>`)
      if (k === 0) s.values.forEach((v, i) => parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/><text x="${px(i).toFixed(1)}" y="${(py(v) - 7).toFixed(1)}" text-anchor="middle" font-size="10">${v.toFixed(unit === 's' ? 1 : 0)}</text>`))
      parts.push(`<line x1="${x0 + 60 + k * 80}" y1="30" x2="${x0 + 75 + k * 80}" y2="30" stroke="${s.color}" stroke-width="2" ${k ? 'stroke-dasharray="5 3"' : ''}/><text x="${x0 + 80 + k * 80}" y="34" font-size="10">${s.label}</text>`)
    })
    return parts.join('\n')
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * width + 20}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'time to green (s): start to mesh verified', [{ label: 'seconds', color: '#4a7', values: results.map((r) => r.timeToGreenMs / 1000) }], 's')}
${panel(width + 20, 'peak memory per guest (MiB)', [
  { label: 'PSS max', color: '#c63', values: results.map((r) => r.peakPssMibPerGuest.max) },
  { label: 'RSS max', color: '#36c', values: results.map((r) => r.peakMibPerGuest.max) },
], 'MiB', 160)}
</svg>
`
}
