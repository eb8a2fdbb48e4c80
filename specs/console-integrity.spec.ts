import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// The serial console's command channel on real guests: output comes back exact or the
// exec fails saying the console was too noisy, never silently wrong.

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

describe('serial console integrity', () => {
  test('500 execs while a guest process writes its own lines to /dev/console every 20 ms: exact or rejected, none wrong', { timeout: 180_000 }, async ({ guestA }) => {
    // Foreign lines on the console device itself: plain text, valid base64, and imitations
    // of the frame's lines (payload, end and missing-helper lines) under other nonces or none.
    const noise = [
      'vq-noise $i',
      'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=',
      'o:6f6b0a',
      'z 0 3 4f3d9a2e7c0c7c3ef1b8a9b1e0a1a2b3 0 -',
      '0123456789o:6f6b0a',
      '0123456789z 0 3 4f3d9a2e7c0c7c3ef1b8a9b1e0a1a2b3 0 -',
      '0123456789m',
      'VQB0123',
    ]
    // Every tenth write is a piece of a line without its end, which glues itself to the
    // front of whatever the console prints next, a line of a frame too: such frames fail
    // their checks and are printed again.
    await guestA.ssh.exec(
      `(i=0; while true; do for line in ${noise.map((line) => `"${line}"`).join(' ')}; do echo "$line" > /dev/console; usleep 20000; done; ` +
        `printf 'partial-' > /dev/console; usleep 20000; i=$((i+1)); done) >/dev/null 2>&1 & echo $! > /tmp/noise.pid`,
    )
    const from = await guestA.serial.position()
    const long = 'a'.repeat(10_000)
    const binary = Buffer.from([0, 1, 2, 10, 13, 27, 91, 54, 110, 127, 128, 200, 255, 0, 10])
    const octal = [...binary].map((byte) => `\\${byte.toString(8).padStart(3, '0')}`).join('')
    const cases: [string, { stdout: Buffer | RegExp; stderr: Buffer | RegExp; exitCode: number }][] = [
      ['true', { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }],
      ["printf 'no newline'; exit 1", { stdout: Buffer.from('no newline'), stderr: Buffer.alloc(0), exitCode: 1 }],
      ["head -c 10000 /dev/zero | tr '\\0' a; echo", { stdout: Buffer.from(`${long}\n`), stderr: Buffer.alloc(0), exitCode: 0 }],
      [`printf '${octal}'; printf '${octal}' >&2; exit 2`, { stdout: binary, stderr: binary, exitCode: 2 }],
      ['no-such-command-here', { stdout: Buffer.alloc(0), stderr: /no-such-command-here: not found\n$/, exitCode: 127 }],
      ["echo 'VQB0123'; echo '0123456789z 0 0 - 0 -' >&2; exit 255", { stdout: Buffer.from('VQB0123\n'), stderr: Buffer.from('0123456789z 0 0 - 0 -\n'), exitCode: 255 }],
      ['echo ok', { stdout: Buffer.from('ok\n'), stderr: Buffer.alloc(0), exitCode: 0 }],
    ]
    let exact = 0
    let rejected = 0
    const wrong: string[] = []
    const started = Date.now()
    try {
      for (let i = 0; i < 500; i++) {
        const [command, expected] = cases[i % cases.length]!
        try {
          const result = await guestA.serial.exec(command, { encoding: 'buffer', timeout: 20_000 })
          const matches = (actual: Buffer, want: Buffer | RegExp) => (want instanceof RegExp ? want.test(actual.toString()) : actual.equals(want))
          if (matches(result.stdout, expected.stdout) && matches(result.stderr, expected.stderr) && result.exitCode === expected.exitCode) exact++
          else wrong.push(`${i}: ${command} -> ${JSON.stringify({ stdout: result.stdout.toString(), stderr: result.stderr.toString(), exitCode: result.exitCode })}`)
        } catch (error) {
          if (/the serial console was too noisy/.test((error as Error).message)) rejected++
          else throw error
        }
      }
    } finally {
      await guestA.ssh.exec('kill $(cat /tmp/noise.pid)')
    }
    const resent = ((await guestA.serial.transcript(from)).match(/\[vitest-qemu typed\] \(print the output again\)/g) ?? []).length
    console.log(
      `500 serial execs under console noise in ${((Date.now() - started) / 1000).toFixed(1)} s: ${exact} exact, ${rejected} rejected as too noisy, ${wrong.length} wrong; ${resent} frames printed again`,
    )
    expect(wrong).toEqual([])
    expect(exact + rejected).toBe(500)
    expect(exact).toBeGreaterThan(400)
    // The noise did reach the console while the commands ran, between the frames' lines.
    const transcript = await guestA.serial.transcript(from)
    expect(transcript).toMatch(/vq-noise \d+/)
    expect(transcript).toContain('0123456789z 0 3')
    expect(transcript).toMatch(/partial-\S/)
  })

  test('when the kernel prints into every line without pause, exec comes back exact or fails saying the console is too noisy, showing the lines, never wrong; then works again', { timeout: 120_000 }, async ({ guestA }) => {
    // Kernel messages reach the UART past the tty's write lock, so they land inside lines
    // of a frame; without their timestamps they cannot be told apart and taken out.
    await guestA.ssh.exec(
      "echo N > /sys/module/printk/parameters/time; dmesg -n 8; (while true; do echo kernel-flood > /dev/kmsg; done) >/dev/null 2>&1 & echo $! > /tmp/flood.pid",
    )
    const from = await guestA.serial.position()
    try {
      // Where the flood's lines happen to fall decides which; a wrong result is the one outcome not allowed.
      const outcome = await guestA.serial.exec("head -c 3000 /dev/zero | tr '\\0' a", { timeout: 60_000 }).then(
        (result) => result,
        (error: Error) => error,
      )
      if (outcome instanceof Error) expect(outcome.message).toMatch(/the serial console was too noisy[\s\S]*kernel-flood/)
      else expect(outcome).toEqual({ stdout: 'a'.repeat(3000), stderr: '', exitCode: 0 })
      // The flood did reach the console meanwhile.
      expect(await guestA.serial.transcript(from)).toContain('kernel-flood')
    } finally {
      await guestA.ssh.exec('kill $(cat /tmp/flood.pid); dmesg -n 1; echo Y > /sys/module/printk/parameters/time')
    }
    expect(await guestA.serial.exec('echo ok')).toEqual({ stdout: 'ok\n', stderr: '', exitCode: 0 })
  })

  test('100 000 random bytes come back exact', { timeout: 60_000 }, async ({ guestB }) => {
    const dir = mkdtempSync(join(tmpdir(), 'vq-serial-'))
    const data = randomBytes(100_000)
    writeFileSync(join(dir, 'random.bin'), data)
    await guestB.ssh.put(join(dir, 'random.bin'), '/tmp/random.bin')
    const result = await guestB.serial.exec('cat /tmp/random.bin', { encoding: 'buffer' })
    expect(result.exitCode).toBe(0)
    expect(result.stdout.equals(data)).toBe(true)
    // As a string (the default), the same bytes decoded as UTF-8.
    expect((await guestB.serial.exec('cat /tmp/random.bin')).stdout).toBe(data.toString('utf8'))
  })

  test('1 MB and 10 MB of output come back exact', { timeout: 240_000 }, async ({ guestB }) => {
    for (const size of [1_000_000, 10_000_000]) {
      const sum = (await guestB.serial.exec(`head -c ${size} /dev/urandom > /tmp/big && md5sum /tmp/big`)).stdout.split(' ')[0]
      const started = Date.now()
      const result = await guestB.serial.exec('cat /tmp/big', { encoding: 'buffer', timeout: 200_000 })
      console.log(`${size} bytes over the serial console in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      expect(result.stdout.length).toBe(size)
      expect(md5(result.stdout)).toBe(sum)
      await guestB.serial.exec('rm /tmp/big')
    }
  })

  for (const count of [340, 2000]) {
    test(`a command of ${count} three-byte characters comes back exact`, async ({ guestB }) => {
      const text = '€'.repeat(count - 1) + '✓'
      expect(await guestB.serial.exec(`printf '%s' '${text}'`)).toEqual({ stdout: text, stderr: '', exitCode: 0 })
    })
  }

  test('a command that never ends times out, and the next command works', async ({ guestB }) => {
    const started = Date.now()
    await expect(guestB.serial.exec('sleep 100000', { timeout: 3000 })).rejects.toThrow(/timed out after 3000 ms/)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(await guestB.serial.exec('echo still here')).toEqual({ stdout: 'still here\n', stderr: '', exitCode: 0 })
  })

  test('serial.expect: an aborted wait ends at once; a pattern that backtracks without end fails (in a worker thread) while the console goes on answering', async ({ guestB }) => {
    const controller = new AbortController()
    const waiting = guestB.serial.expect('never printed on this console', { timeout: 30_000, signal: controller.signal })
    setTimeout(() => controller.abort(), 200)
    const started = Date.now()
    await expect(waiting).rejects.toThrow(/aborted/)
    expect(Date.now() - started).toBeLessThan(5000)

    const from = await guestB.serial.position()
    await guestB.serial.exec(`echo ${'a'.repeat(40)}! > /dev/console`)
    const slow = guestB.serial.expect(/(a+)+$/, { from, timeout: 20_000 })
    // While the pattern is being tried, the console goes on answering.
    expect(await guestB.serial.exec('echo meanwhile')).toEqual({ stdout: 'meanwhile\n', stderr: '', exitCode: 0 })
    await expect(slow).rejects.toThrow(/backtracks too much/)
  })

  // Last: it reboots guestB.
  test('after a reboot the shell has no helper; the next exec sets it up again and runs', { timeout: 120_000 }, async ({ guestB }) => {
    const from = await guestB.serial.position()
    await guestB.qmp.reset()
    const ready = await guestB.serial.expect('vitest-qemu-guest: ready', { from, timeout: 90_000 })
    await guestB.serial.expect(/# /, { from: ready.end, timeout: 30_000 })
    expect(await guestB.serial.exec('echo ok; exit 3')).toEqual({ stdout: 'ok\n', stderr: '', exitCode: 3 })
    const transcript = await guestB.serial.transcript(ready.end)
    expect(transcript).toContain('vq: not found')
    expect(transcript).toContain('[vitest-qemu typed] (console setup')
  })
})
