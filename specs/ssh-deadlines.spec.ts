import { describe } from 'vitest'
import { expect, test } from 'vitest-qemu/test'

// SSH under the conditions that used to hang it: a command's timeout covers the whole
// call, however far it got, and a command longer than the server takes still runs.

describe('ssh', () => {
  test('exec with a timeout rejects by then while the guest link is down, and works again once it is up', async ({ guestA }) => {
    expect((await guestA.ssh.exec('echo warm')).stdout).toBe('warm\n')
    await guestA.qmp.setLink(0, false)
    const started = Date.now()
    try {
      await expect(guestA.ssh.exec('echo never', { timeout: 3000 })).rejects.toThrow(/timed out after 3000 ms/)
      // The timeout's own 3 s, and the margin a loaded machine needs, not a TCP retry's minutes.
      expect(Date.now() - started).toBeLessThan(3000 + 3000)
    } finally {
      await guestA.qmp.setLink(0, true)
    }
    expect((await guestA.ssh.exec('echo back', { timeout: 30_000 })).stdout).toBe('back\n')
  })

  test('a command of 100 000 bytes runs', async ({ guestA }) => {
    const command = `echo ${'x'.repeat(100_000)} | wc -c`
    expect(await guestA.ssh.exec(command)).toEqual({ stdout: '100001\n', stderr: '', exitCode: 0 })
  })
})
