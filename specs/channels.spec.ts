import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// The command channels on real guests, under the conditions that break naive ones.

describe('serial console', () => {
  test('200 commands in a row come back exact while the kernel prints to the console every 50 ms', { timeout: 240_000 }, async ({ guestA }) => {
    // Kernel noise on the console: a loop writing to /dev/kmsg, and a console log level that prints it.
    await guestA.ssh.exec(
      "dmesg -n 8; (i=0; while true; do echo \"vq-noise $i\" > /dev/kmsg; i=$((i+1)); sleep 0.05; done) >/dev/null 2>&1 & echo $! > /tmp/noise.pid",
    )
    const from = await guestA.serial.position()
    const long = 'a'.repeat(10_000)
    const cases: [string, { stdout: string; stderr: string; exitCode: number }][] = [
      ["echo 'guestA:~# '", { stdout: 'guestA:~# \n', stderr: '', exitCode: 0 }],
      ["printf 'VQB0123\\nVQM0123\\nVQE0123_0\\n'", { stdout: 'VQB0123\nVQM0123\nVQE0123_0\n', stderr: '', exitCode: 0 }],
      ["head -c 10000 /dev/zero | tr '\\0' a; echo", { stdout: `${long}\n`, stderr: '', exitCode: 0 }],
      ["head -c 10000 /dev/zero | tr '\\0' a", { stdout: long, stderr: '', exitCode: 0 }],
      ["printf 'no newline'; exit 1", { stdout: 'no newline', stderr: '', exitCode: 1 }],
      ['echo out; echo err >&2; exit 2', { stdout: 'out\n', stderr: 'err\n', exitCode: 2 }],
      ['no-such-command-here', { stdout: '', stderr: '/bin/sh: no-such-command-here: not found\n', exitCode: 127 }],
      ['exit 255', { stdout: '', stderr: '', exitCode: 255 }],
    ]
    try {
      for (let i = 0; i < 200; i++) {
        const [command, expected] = cases[i % cases.length]!
        expect(await guestA.serial.exec(command), `command ${i}: ${command}`).toEqual(expected)
      }
    } finally {
      await guestA.ssh.exec('kill $(cat /tmp/noise.pid); dmesg -n 1')
    }
    // The noise did reach the console while the commands ran.
    expect(await guestA.serial.transcript(from)).toMatch(/\[ *\d+\.\d+\] vq-noise \d+/)
  })


test('a 10 000-character command line goes through the serial console intact', async ({ guestB }) => {
    const payload = 'y'.repeat(10_000)
    expect(await guestB.serial.exec(`printf '%s' '${payload}' | wc -c; echo "it's done"`)).toEqual({ stdout: "10000\nit's done\n", stderr: '', exitCode: 0 })
  })
})

describe('SSH', () => {
  test('stdout, stderr and the exit code are kept apart', async ({ guestB }) => {
    expect(await guestB.ssh.exec('echo to-out; echo to-err >&2; exit 3')).toEqual({ stdout: 'to-out\n', stderr: 'to-err\n', exitCode: 3 })
  })

  test('20 commands at once on one guest all come back right', async ({ guestB }) => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => guestB.ssh.exec(`sleep 0.2; echo run-${i}; echo err-${i} >&2; exit ${i % 3}`)))
    results.forEach((result, i) => expect(result).toEqual({ stdout: `run-${i}\n`, stderr: `err-${i}\n`, exitCode: i % 3 }))
  })

  test('a 4 MiB file goes in and comes back with the same SHA-256', { timeout: 120_000 }, async ({ guestB }) => {
    const dir = mkdtempSync(join(tmpdir(), 'vq-ssh-'))
    const data = randomBytes(4 * 1024 * 1024)
    writeFileSync(join(dir, 'in.bin'), data)
    await guestB.ssh.put(join(dir, 'in.bin'), '/tmp/in.bin')
    const sha = createHash('sha256').update(data).digest('hex')
    expect((await guestB.succeed('sha256sum /tmp/in.bin')).split(' ')[0]).toBe(sha)
    await guestB.ssh.get('/tmp/in.bin', join(dir, 'out.bin'))
    expect(createHash('sha256').update(readFileSync(join(dir, 'out.bin'))).digest('hex')).toBe(sha)
  })
})

describe('QMP', () => {
  test("setLink(0, false) cuts the guest's NIC and toReach fails; setLink(0, true) restores it", async ({ guestA, guestB }) => {
    await expect(guestA).toReach(guestB)
    await guestA.qmp.setLink(0, false)
    try {
      await expect(guestA).not.toReach(guestB)
    } finally {
      await guestA.qmp.setLink(0, true)
    }
    await expect(guestA).toReach(guestB)
  })
})
