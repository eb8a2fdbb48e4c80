import { createHash } from 'node:crypto'
import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// The guest agent's private channel (a virtio-serial port) on real guests: exact bytes,
// every kind of exit, commands of any length, a cut link or a partition, a timeout.

describe('guest agent', () => {
  test('guest.exec goes over the agent, and outputs come back exact: empty, without newline, long, binary, every exit code', async ({ guestA }) => {
    const mark = guestA.commands.mark()
    const long = 'a'.repeat(10_000)
    const cases: [string, { stdout: string; stderr: string; exitCode: number }][] = [
      ['true', { stdout: '', stderr: '', exitCode: 0 }],
      ["printf 'no newline'; exit 1", { stdout: 'no newline', stderr: '', exitCode: 1 }],
      ['echo out; echo err >&2; exit 2', { stdout: 'out\n', stderr: 'err\n', exitCode: 2 }],
      ['exit 255', { stdout: '', stderr: '', exitCode: 255 }],
      ["head -c 10000 /dev/zero | tr '\\0' a", { stdout: long, stderr: '', exitCode: 0 }],
      ["printf 'VQA:x:E\\nVQA:x:X:0\\n'", { stdout: 'VQA:x:E\nVQA:x:X:0\n', stderr: '', exitCode: 0 }],
      ['cat <<EOF\nline one\n\n  indented $HOME\nEOF', { stdout: 'line one\n\n  indented /root\n', stderr: '', exitCode: 0 }],
      ['cd /tmp; pwd', { stdout: '/tmp\n', stderr: '', exitCode: 0 }],
      ['pwd', { stdout: '/root\n', stderr: '', exitCode: 0 }],
    ]
    for (const [command, expected] of cases) expect(await guestA.exec(command), command).toEqual(expected)
    expect(await guestA.exec('no-such-command-here')).toEqual({ stdout: '', stderr: expect.stringMatching(/no-such-command-here: not found\n$/), exitCode: 127 })
    expect(guestA.commands.since(mark)).not.toMatch(/^\[[\d:.]+\] (ssh|serial) /m)

    const bytes = await guestA.exec('head -c 100000 /dev/urandom > /tmp/random; cat /tmp/random', { encoding: 'buffer' })
    const sum = (await guestA.exec('sha256sum /tmp/random')).stdout.split(' ')[0]
    expect(bytes.stdout.length).toBe(100_000)
    expect(createHash('sha256').update(bytes.stdout).digest('hex')).toBe(sum)

    const wide = '€'.repeat(2000)
    expect((await guestA.exec(`echo ${wide}`)).stdout).toBe(`${wide}\n`)
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => guestA.exec(`echo ${i}`)))
    expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`))
  })

  test('works with the link cut and across a partition, where the network does not', async ({ guestA, guestB, lab }) => {
    await guestA.qmp.setLink(0, false)
    try {
      await expect(guestA).not.toReach(guestB)
      expect(await guestA.exec('echo still here')).toEqual({ stdout: 'still here\n', stderr: '', exitCode: 0 })
    } finally {
      await guestA.qmp.setLink(0, true)
    }
    const partition = await lab.partition([guestA], [guestB])
    await expect(guestB).not.toReach(guestA)
    expect((await guestB.exec('hostname')).stdout).toBe('guestB\n')
    await partition.heal()
    await expect(guestA).toReach(guestB)
  })

  test('a command past its timeout is ended in the guest, and the next one runs', async ({ guestA }) => {
    await expect(guestA.exec('sleep 300 & sleep 301; echo never', { timeout: 1500 })).rejects.toThrow(/timed out after 1500 ms \(agent\)/)
    expect(await guestA.exec('echo next')).toEqual({ stdout: 'next\n', stderr: '', exitCode: 0 })
    // Both sleeps, the one it waited for and the one it started in the background, are gone.
    expect((await guestA.exec('ps -o args | grep -c "^sleep 30[01]" || true')).stdout).toBe('0\n')
  })
})
