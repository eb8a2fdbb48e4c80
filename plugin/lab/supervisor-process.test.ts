import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { expect, test } from 'vitest'
import { startSupervisorAhead, takeSupervisor } from './supervisor-process.js'

// The plugin starts a supervisor for its project ahead of the lab; the project's global
// setup takes that one over instead of starting its own: once, only under the same key and
// for the same network mode. (A stand-in process here: the pool's rules are under test.)

test('a supervisor started ahead is taken once, for its own network mode; later labs start their own', async () => {
  const started: string[] = []
  // Like a supervisor: it waits until its stdin closes.
  const standIn = (network: string) => {
    started.push(network)
    return spawn(process.execPath, ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'], { stdio: ['pipe', 'ignore', 'ignore'] })
  }
  const project = {}
  const ahead = startSupervisorAhead('host', project, standIn)
  const namespace = takeSupervisor('namespace', project, standIn)
  const otherProject = takeSupervisor('host', {}, standIn)
  const first = takeSupervisor('host', project, standIn)
  const second = takeSupervisor('host', project, standIn)
  try {
    expect(namespace).not.toBe(ahead)
    expect(otherProject).not.toBe(ahead)
    expect(first).toBe(ahead)
    expect(second).not.toBe(ahead)
    expect(started).toEqual(['host', 'namespace', 'host', 'host'])
  } finally {
    await Promise.all(
      [namespace, otherProject, first, second].map(async (child) => {
        const exited = once(child, 'exit')
        child.stdin!.end()
        await exited
      }),
    )
  }
})

test('one started ahead that has died is not taken', async () => {
  const project = {}
  const dying = startSupervisorAhead('host', project, () => spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: ['pipe', 'ignore', 'ignore'] }))
  await once(dying, 'exit')
  const fresh = takeSupervisor('host', project, () => spawn(process.execPath, ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'], { stdio: ['pipe', 'ignore', 'ignore'] }))
  expect(fresh).not.toBe(dying)
  const exited = once(fresh, 'exit')
  fresh.stdin!.end()
  await exited
})
