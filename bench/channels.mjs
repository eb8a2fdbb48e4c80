// Channel benchmark (a script, not a test): boots the seed lab, then prints the median
// round trip of a trivial command over the guest agent, the serial console and SSH, and each
// guest's boot-to-ready time per stage.   npm run bench:channels [-- --rounds 50]
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
  const serial = await timeRounds(() => guest.serial.exec('echo ok'))
  const ssh = await timeRounds(() => guest.ssh.exec('echo ok'))
  handles.close()
  console.log(`\nround trip of \`echo ok\` on guestA, ${rounds} rounds each (median / min / max, ms)`)
  for (const [name, times] of [['agent', agent], ['serial', serial], ['ssh', ssh]]) {
    console.log(`  ${name.padEnd(7)} ${median(times).toFixed(1).padStart(7)} ${Math.min(...times).toFixed(1).padStart(7)} ${Math.max(...times).toFixed(1).padStart(7)}`)
  }
  console.log(`\nboot to ready per stage (ms since QEMU started); whole lab ready in ${labReadyMs} ms (startLab call to ready)`)
  console.log(`  ${'guest'.padEnd(8)} ${['qemu', 'console', 'shell', 'ssh'].map((stage) => stage.padStart(8)).join('')}`)
  for (const descriptor of lab.descriptor.guests) {
    console.log(`  ${descriptor.name.padEnd(8)} ${['qemu', 'console', 'shell', 'ssh'].map((stage) => String(descriptor.bootStages[stage] ?? '-').padStart(8)).join('')}`)
  }
} finally {
  await lab.stop()
}
