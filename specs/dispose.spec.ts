import { expect, test } from 'vitest-qemu/test'

// `await using` on the handles tests hold (Symbol.asyncDispose): a capture stops at the end
// of its block, a guest handle closes its SSH connections there (the guest runs on, and the
// next SSH command opens a new one).

test('await using: a capture stops when its block ends, with the block\'s packets in its file', async ({ lab, guestA, guestB }) => {
  let stopped: { path: string; count: (filter: string) => Promise<number> }
  {
    await using capture = await lab.capture('br0')
    stopped = capture
    expect(lab.activeCaptures.has(capture)).toBe(true)
    await guestA.succeed(`ping -c 2 -W 2 ${guestB.ip}`)
  }
  expect([...lab.activeCaptures].map((capture) => capture.path)).not.toContain(stopped.path)
  expect(await stopped.count(`icmp.type == 8 && ip.dst == ${guestB.ip}`)).toBeGreaterThanOrEqual(2)
})

test('await using: a guest handle closes its SSH connections when its block ends', async ({ guestA }) => {
  const sshSessions = async () => Number((await guestA.succeed("netstat -tn | grep -c ':22 .*ESTABLISHED' || true")).trim())
  {
    await using guest = guestA
    expect((await guest.ssh.exec('echo over-ssh')).stdout).toBe('over-ssh\n')
    expect(await sshSessions()).toBeGreaterThanOrEqual(1)
  }
  await expect.poll(sshSessions, { timeout: 10_000 }).toBe(0)
  expect((await guestA.ssh.exec('echo again')).stdout).toBe('again\n')
})
