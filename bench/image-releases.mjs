// npm run bench:image-releases [-- --arch x86_64,aarch64 --releases bookworm,trixie --rounds 3]:
// the default image of each architecture built from each Debian release, side by side.
// Size: the kernel QEMU boots plus the initramfs, in bytes (and the packaged vmlinuz).
// Boot: one default guest per lab, started with the engine (startLab) from a built image;
// "ready" is startLab's time to resolve (the guest's shell answers), "ssh" adds the first
// SSH command's answer. The releases alternate within each round (the order flips every
// round), and the medians over the rounds are printed. VITEST_QEMU_DEBIAN_RELEASE picks the
// release each image is built from; the cache keeps one build per release.
import { statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { attachLab, ensureDefaultImage, startLab } from '../dist/index.js'
import { median } from './median.mjs'

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? process.argv[at + 1] : fallback
}
const arches = option('arch', 'x86_64,aarch64').split(',')
const releases = option('releases', 'bookworm,trixie').split(',')
const rounds = Number(option('rounds', '3'))
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${option('rounds')}`)

const withRelease = async (release, work) => {
  const before = process.env.VITEST_QEMU_DEBIAN_RELEASE
  process.env.VITEST_QEMU_DEBIAN_RELEASE = release
  try {
    return await work()
  } finally {
    if (before === undefined) delete process.env.VITEST_QEMU_DEBIAN_RELEASE
    else process.env.VITEST_QEMU_DEBIAN_RELEASE = before
  }
}

const sizes = {}
for (const arch of arches) {
  for (const release of releases) {
    const image = await withRelease(release, () => ensureDefaultImage(arch))
    const manifest = JSON.parse(readFileSync(join(image.dir, 'manifest.json'), 'utf8'))
    const bytes = (path) => statSync(path).size
    sizes[`${arch} ${release}`] = {
      kernelRelease: manifest.kernelRelease,
      kernelBooted: image.kernel.endsWith('vmlinux') ? 'vmlinux (PVH)' : 'vmlinuz',
      kernel: bytes(image.kernel),
      vmlinuz: bytes(join(image.dir, 'vmlinuz')),
      initrd: bytes(image.initrd),
      total: bytes(image.kernel) + bytes(image.initrd),
    }
  }
}

async function bootOnce(arch, release) {
  return withRelease(release, async () => {
    const started = Date.now()
    const lab = await startLab({ bridges: { lan: { subnet: '10.67.0.0/24' } }, guests: { bench: { bridge: 'lan', ip: '10.67.0.2', arch, bootTimeout: 300_000 } } })
    const ready = Date.now() - started
    const handles = attachLab(lab.descriptor)
    try {
      const { stdout } = await handles.guest('bench').ssh.exec('uname -r')
      const ssh = Date.now() - started
      if (!stdout.trim()) throw new Error(`${arch} ${release}: uname -r over SSH printed nothing`)
      return { ready, ssh, kernelRelease: stdout.trim() }
    } finally {
      handles.close()
      await lab.stop()
    }
  })
}

const boots = Object.fromEntries(Object.keys(sizes).map((key) => [key, []]))
for (let round = 1; round <= rounds; round++) {
  for (const arch of arches) {
    const order = round % 2 ? releases : [...releases].reverse()
    for (const release of order) {
      const boot = await bootOnce(arch, release)
      boots[`${arch} ${release}`].push(boot)
      console.log(`round ${round}/${rounds}: ${arch} ${release} (${boot.kernelRelease}): ready ${(boot.ready / 1000).toFixed(2)} s, ssh ${(boot.ssh / 1000).toFixed(2)} s`)
    }
  }
}

const mb = (bytes) => (bytes / 1e6).toFixed(1).padStart(6)
const s = (ms) => (ms / 1000).toFixed(2).padStart(6)
console.log(`\ndefault images by Debian release: sizes in MB (10^6 bytes), boot medians over ${rounds} rounds, in seconds`)
console.log(`${'image'.padEnd(18)} ${'kernel release'.padEnd(26)} ${'booted'.padEnd(14)} kernel initrd  total vmlinuz  ready    ssh`)
for (const [key, size] of Object.entries(sizes)) {
  const runs = boots[key]
  console.log(
    `${key.padEnd(18)} ${size.kernelRelease.padEnd(26)} ${size.kernelBooted.padEnd(14)} ${mb(size.kernel)} ${mb(size.initrd)} ${mb(size.total)} ${mb(size.vmlinuz)} ${s(median(runs.map((run) => run.ready)))} ${s(median(runs.map((run) => run.ssh)))}`,
  )
}
console.log(`\n${JSON.stringify({ date: new Date().toISOString(), rounds, sizes, boots })}`)
