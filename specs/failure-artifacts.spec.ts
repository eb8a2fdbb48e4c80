import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, test } from 'vitest'
import { startFixtureRun } from './support/fixture-run.js'

// A failing test carries its evidence: the console output of every guest during the
// test and the packets of its time window, attached so that reporters show them; here
// read back from a JUnit report of a run that fails on purpose.

test('a failing test has console transcripts and its pcap window attached, down to the JUnit report', { timeout: 180_000 }, async () => {
  // Vitest copies attached files into its attachmentsDir: .vitest/attachments since Vitest 5, .vitest-attachments in 4.1.
  const fixtureDir = join(import.meta.dirname, 'fixtures', 'failing-run')
  const attachmentsDir = join(fixtureDir, process.env.VITEST_QEMU_LINE === 'vitest4' ? '.vitest-attachments' : join('.vitest', 'attachments'))
  rmSync(attachmentsDir, { recursive: true, force: true })
  const run = startFixtureRun('failing-run', ['--reporter=junit', '--outputFile=junit.xml'])
  const result = await run.process
  expect(result.exitCode, result.all).toBe(1)
  const junit = readFileSync(join(import.meta.dirname, 'fixtures', 'failing-run', 'junit.xml'), 'utf8')
  expect(junit).toContain('<failure')
  const attached = (type: string) => [...junit.matchAll(new RegExp(`<property name="${type}" value="[^"]*?: ([^"]+)"`, 'g'))].map((match) => match[1]!)
  const consoles = attached('vitest-qemu:console')
  expect(consoles).toHaveLength(2)
  const clientConsole = consoles.find((path) => path.endsWith('-client.console.log'))!
  expect(readFileSync(clientConsole, 'utf8')).toContain('marker-from-the-failing-test')
  const [pcap] = attached('vitest-qemu:capture')
  expect(pcap && existsSync(pcap), junit).toBe(true)
  const requests = await execa('tshark', ['-r', pcap!, '-n', '-Y', 'arp.dst.proto_ipv4 == 10.88.0.99 || ip.dst == 10.88.0.99'])
  expect(requests.stdout).toContain('10.88.0.99')
  // The lab's own commands travel off the network: the test made no traffic from or to the
  // bridge's own address (10.88.0.254), so the capture holds none.
  const own = await execa('tshark', ['-r', pcap!, '-n', '-Y', 'ip.addr == 10.88.0.254 || arp.src.proto_ipv4 == 10.88.0.254'])
  expect(own.stdout).toBe('')
  // The session log: the test's commands and outputs on each guest, whichever channel ran them,
  // and the failed ping's output once, not once per try.
  const sessions = attached('vitest-qemu:commands')
  const client = readFileSync(sessions.find((path) => path.endsWith('-client.commands.log'))!, 'utf8')
  expect(client).toMatch(/serial \$ echo marker-from-the-failing-test\n  exit 0 \(\d+ ms\)\n  marker-from-the-failing-test\n/)
  expect(client).toMatch(/agent \$ echo marker-over-the-default-channel\n  exit 0 \(\d+ ms\)\n  marker-over-the-default-channel\n/)
  expect(client.match(/PING 10\.88\.0\.99/g)).toHaveLength(1)
  const copies = readdirSync(attachmentsDir)
  expect(copies.filter((name) => name.startsWith('console-of-')), copies.join('\n')).toHaveLength(2)
  expect(copies.filter((name) => name.endsWith('.pcap')), copies.join('\n')).toHaveLength(1)
  const failure = /<failure[^>]*message="([^"]*)"/.exec(junit)?.[1] ?? ''
  expect(failure.match(/PING 10\.88\.0\.99/g), failure).toHaveLength(1)
})
