// npm run bench:packages [-- --rounds 3]: the cost of `packages`, for the whole acceptance
// list on x86_64. Build: the package set made from scratch (its cached archive removed
// first; the image and apt's index are reused, as on any machine after its first run),
// its time and the archive's size. Boot: one default guest with the list and one without,
// alternating within each round (order flipped every round), snapshots off; "ready" is
// startLab's time to resolve. Medians over the rounds.
import { rmSync, statSync } from 'node:fs'
import { ensureDefaultImage, startLab } from '../dist/index.js'
import { ensurePackageSet, packageSetPaths } from '../dist/plugin/images/package-set.js'
import { median } from './median.mjs'

const at = process.argv.indexOf('--rounds')
const rounds = at > 0 ? Number(process.argv[at + 1]) : 3
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${process.argv[at + 1]}`)
const acceptance = ['nginx-light', 'lighttpd', 'dnsmasq', 'nftables', 'iptables', 'iproute2', 'curl', 'iperf3', 'tcpdump', 'openssh-server', 'wireguard-tools', 'python3-minimal', 'socat', 'ethtool']

const image = await ensureDefaultImage('x86_64')
const set = packageSetPaths('x86_64', acceptance)
rmSync(set.dir, { recursive: true, force: true })
const started = performance.now()
await ensurePackageSet('bench', image, acceptance)
const buildSeconds = (performance.now() - started) / 1000
const bytes = statSync(set.cpio).size

const bootOnce = async (packages) => {
  const begin = performance.now()
  const lab = await startLab({ snapshots: false, bridges: { b0: { subnet: '10.63.0.0/24' } }, guests: { g: { bridge: 'b0', ip: '10.63.0.2', packages } } })
  const seconds = (performance.now() - begin) / 1000
  await lab.stop()
  return seconds
}
const times = { without: [], with: [] }
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['without', 'with'] : ['with', 'without']
  for (const which of order) times[which].push(await bootOnce(which === 'with' ? acceptance : []))
}
const without = median(times.without)
const withList = median(times.with)
console.log(`\npackages: the acceptance list (${acceptance.length} packages) on x86_64, ${rounds} round(s)`)
console.log(`  build from scratch   ${buildSeconds.toFixed(1)} s`)
console.log(`  archive              ${(bytes / 2 ** 20).toFixed(1)} MiB`)
console.log(`  ready without        ${without.toFixed(2)} s (median)`)
console.log(`  ready with the list  ${withList.toFixed(2)} s (median), ratio ${(withList / without).toFixed(2)}`)
