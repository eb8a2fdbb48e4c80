import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { expect, test } from 'vitest'
import { startSupervisorAhead, takeSupervisor } from './supervisor-process.js'

// The plugin starts a supervisor when it reads its config; the lab's global setup takes that
// one over instead of starting its own, once, and only for the same network mode. (A
// stand-in process here: the pool's rules, not the supervisor, are under test.)

test('a supervisor started ahead is taken once, for its own network mode; later labs start their own', async () => {
  const started: string[] = []
  // Like a supervisor: it waits until its stdin closes.
  const standIn = (network: string) => {
    started.push(network)
    return spawn(process.execPath, ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'], { stdio: ['pipe', 'ignore', 'ignore'] })
  }
  const ahead = startSupervisorAhead('host', standIn)
  const namespace = takeSupervisor('namespace', standIn)
  const first = takeSupervisor('host', standIn)
  const second = takeSupervisor('host', standIn)
  try {
    expect(namespace).not.toBe(ahead)
    expect(first).toBe(ahead)
    expect(second).not.toBe(ahead)
    expect(started).toEqual(['host', 'namespace', 'host'])
  } finally {
    await Promise.all(
      [namespace, first, second].map(async (child) => {
        const exited = once(child, 'exit')
        child.stdin!.end()
        await exited
      }),
    )
  }
})

test('one started ahead that has died is not taken', async () => {
  const dying = startSupervisorAhead('host', () => spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: ['pipe', 'ignore', 'ignore'] }))
  await once(dying, 'exit')
  const fresh = takeSupervisor('host', () => spawn(process.execPath, ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'], { stdio: ['pipe', 'ignore', 'ignore'] }))
  expect(fresh).not.toBe(dying)
  const exited = once(fresh, 'exit')
  fresh.stdin!.end()
  await exited
})
