// Channel benchmark (a script, not a test): boots the seed lab, then prints the median
// round trip of a trivial command over the guest agent, the serial console and SSH, the
// time to bring 1 MB and 10 MB of output back over the serial console, and each guest's
// boot-to-ready time per stage.   npm run bench:channels [-- --rounds 50] [-- --no-bulk]
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { attachLab, startLab } from '../dist/index.js'
import { median } from './median.mjs'

const roundsAt = process.argv.indexOf('--rounds')
const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 50


async function timeRounds(run) {
  await run() // warm-up: opens the connection
  const times = []
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint()
    const result = await run()
    if (result.stdout !== 'ok\n') throw new Error(`unexpected output ${JSON.stringify(result.stdout)}`)
    times.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  return times
}

/** The QEMU command line of a running guest, for labgrid to boot the same image the same way. */
function qemuSpec(pid) {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  const value = (flag) => args[args.indexOf(flag) + 1]
  const binary = args.find((arg) => /qemu-system-/.test(arg))
  const qemu = binary.startsWith('/') ? binary : execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim()
  return { qemu, kernel: value('-kernel'), initrd: value('-initrd'), append: value('-append'), machine: value('-machine'), memory: value('-m') }
}

/** labgrid 0.4.1 (Debian's python3-labgrid): QEMUDriver + ShellDriver, `echo ok` round trips; undefined when it is not installed. */
async function labgridRoundTrip(spec) {
  const python = '/usr/bin/python3'
  if (!existsSync('/usr/lib/python3/dist-packages/labgrid')) return undefined
  const { stdout } = await promisify(execFile)(python, [new URL('./labgrid-echo.py', import.meta.url).pathname, JSON.stringify(spec), String(rounds)], { timeout: 300_000 })
  return JSON.parse(stdout.trim().split('\n').pop())
}

const started = Date.now()
const lab = await startLab({
  bridges: { br0: { subnet: '192.168.7.0/24' } },
  guests: {
    guestA: { bridge: 'br0', ip: '192.168.7.1', mac: '52:54:00:12:34:50' },
    guestB: { bridge: 'br0', ip: '192.168.7.2', mac: '52:54:00:12:34:51' },
  },
})
const labReadyMs = Date.now() - started
try {
  const handles = attachLab(lab.descriptor)
  const guest = handles.guest('guestA')
  const agent = await timeRounds(() => guest.agent.exec('echo ok'))
  const spec = qemuSpec(lab.descriptor.guests.find((descriptor) => descriptor.name === 'guestA').qemuPid)
  const serial = await timeRounds(() => guest.serial.exec('echo ok'))
  const ssh = await timeRounds(() => guest.ssh.exec('echo ok'))
  const bulk = []
  if (!process.argv.includes('--no-bulk')) {
    for (const size of [1_000_000, 10_000_000]) {
      const sum = (await guest.serial.exec(`head -c ${size} /dev/urandom > /tmp/bulk && md5sum /tmp/bulk`)).stdout.split(' ')[0]
      const started = process.hrtime.bigint()
      const result = await guest.serial.exec('cat /tmp/bulk', { encoding: 'buffer', timeout: 300_000 })
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (createHash('md5').update(result.stdout).digest('hex') !== sum) throw new Error(`${size} bytes over the serial console came back different`)
      bulk.push([size, ms])
    }
    await guest.serial.exec('rm -f /tmp/bulk')
  }
  handles.close()
  console.log(`\nround trip of \`echo ok\` on guestA, ${rounds} rounds each (median / min / max, ms)`)
  for (const [name, times] of [['agent', agent], ['serial', serial], ['ssh', ssh]]) {
    console.log(`  ${name.padEnd(7)} ${median(times).toFixed(1).padStart(7)} ${Math.min(...times).toFixed(1).padStart(7)} ${Math.max(...times).toFixed(1).padStart(7)}`)
  }
  for (const [size, ms] of bulk) console.log(`  serial: ${size / 1e6} MB of output (random bytes, checked by MD5) in ${(ms / 1000).toFixed(1)} s`)
  // labgrid on the same image, booted by its own QEMUDriver once this lab's guests are idle.
  const labgrid = process.argv.includes('--no-labgrid') ? undefined : await labgridRoundTrip(spec).catch((error) => ({ error: error.message }))
  if (labgrid === undefined) console.log('  labgrid: not measured (python3-labgrid is not installed, or --no-labgrid)')
  else if (labgrid.error) console.log(`  labgrid: failed: ${labgrid.error.split('\n').slice(-3).join(' ')}`)
  else {
    console.log(`  ${'labgrid'.padEnd(7)} ${labgrid.median.toFixed(1).padStart(7)} ${labgrid.min.toFixed(1).padStart(7)} ${labgrid.max.toFixed(1).padStart(7)}   (labgrid 0.4.1 ShellDriver.run_check on the same image, TCG)`)
    console.log(`  labgrid / vitest-qemu serial median: ${(labgrid.median / median(serial)).toFixed(1)}x`)
  }
  console.log(`\nboot to ready per stage (ms since QEMU started); whole lab ready in ${labReadyMs} ms (startLab call to ready)`)
  console.log(`  ${'guest'.padEnd(8)} ${['qemu', 'console', 'shell', 'ssh'].map((stage) => stage.padStart(8)).join('')}`)
  for (const descriptor of lab.descriptor.guests) {
    console.log(`  ${descriptor.name.padEnd(8)} ${['qemu', 'console', 'shell', 'ssh'].map((stage) => String(descriptor.bootStages[stage] ?? '-').padStart(8)).join('')}`)
  }
} finally {
  await lab.stop()
}
