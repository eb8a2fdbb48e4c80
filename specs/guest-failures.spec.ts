import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// A guest whose QEMU dies mid-test (the OOM killer, a crash): calls under way and every
// later call on it fail at once, saying QEMU exited and showing the console's last lines,
// over every channel, instead of waiting out their own timeouts. A QEMU that stops
// answering (stopped, hung) fails QMP requests at their deadline, naming the guest.

// Names of this run's own: the same spec in another checkout may run meanwhile.
const tag = randomBytes(3).toString('hex')
const name = `doomed${tag}`
const frozen = `frozen${tag}`
let lab: StartedLab
let handles: Lab

beforeAll(async () => {
  lab = await startLab({ bridges: { lan: { subnet: '10.45.0.0/24' } }, guests: { [name]: { bridge: 'lan', ip: '10.45.0.2' }, [frozen]: { bridge: 'lan', ip: '10.45.0.3' } } })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

/** The call's error and how long after `since` it came. */
async function failure(call: Promise<unknown>, since: () => number): Promise<{ message: string; ms: number }> {
  const error = await call.then(
    () => new Error('the call succeeded'),
    (caught: Error) => caught,
  )
  return { message: error.message, ms: Date.now() - since() }
}

describe('a guest whose QEMU is killed', { timeout: 60_000 }, () => {
  test('calls under way and later calls over the agent, SSH, the console and QMP reject within 2 s, naming the exit', async () => {
    const guest = handles.guest(name)
    expect((await guest.ssh.exec('echo warm')).stdout).toBe('warm\n')
    expect(await guest.succeed('echo agent')).toBe('agent\n')
    let killedAt = Number.POSITIVE_INFINITY
    const since = () => killedAt
    // Under way when QEMU dies: each would otherwise run for a minute.
    const underWay = [failure(guest.exec('sleep 60', { timeout: 90_000 }), since), failure(guest.ssh.exec('sleep 60', { timeout: 90_000 }), since)]
    await new Promise((resolve) => setTimeout(resolve, 500))
    killedAt = Date.now()
    process.kill(guest.descriptor.qemuPid, 'SIGKILL')
    const later = async (call: () => Promise<unknown>) => {
      const started = Date.now()
      return failure(call(), () => started)
    }
    const results = [
      ...(await Promise.all(underWay)),
      await later(() => guest.exec('echo after', { timeout: 30_000 })),
      await later(() => guest.ssh.exec('echo after', { timeout: 30_000 })),
      await later(() => guest.serial.exec('echo after', { timeout: 30_000 })),
      await later(() => guest.qmp.command('query-status')),
    ]
    for (const { message, ms } of results) {
      expect(message).toMatch(new RegExp(`^${name}: QEMU exited \\(SIGKILL\\); the console's last lines`))
      expect(ms, message).toBeLessThan(2000)
    }
  })
})

test('a QEMU that stops answering (SIGSTOP) fails a QMP request at its 20 s deadline, naming the guest; once it runs again, QMP answers', { timeout: 60_000 }, async () => {
  const guest = handles.guest(frozen)
  expect(await guest.qmp.command('query-status')).toMatchObject({ status: 'running' })
  const started = Date.now()
  process.kill(guest.descriptor.qemuPid, 'SIGSTOP')
  try {
    await expect(guest.qmp.command('query-status')).rejects.toThrow(new RegExp(`^${frozen}: QMP query-status got no answer within 20000 ms \\(QEMU stopped or hung\\)`))
    // The deadline, and the margin a loaded machine needs: not the test's own timeout.
    expect(Date.now() - started).toBeLessThan(20_000 + 5000)
  } finally {
    process.kill(guest.descriptor.qemuPid, 'SIGCONT')
  }
  expect(await guest.qmp.command('query-status')).toMatchObject({ status: 'running' })
  expect(await guest.succeed('echo still here')).toBe('still here\n')
})
