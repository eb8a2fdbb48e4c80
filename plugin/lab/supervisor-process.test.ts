import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { expect, test } from 'vitest'
import { startSupervisorAhead, startSupervisorEarly, takeSupervisor } from './supervisor-process.js'

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

test('the one started early (config loaded) goes to the first project of its network mode that asks; at most one waits per mode', async () => {
  const started: string[] = []
  const standIn = (network: string) => {
    started.push(network)
    return spawn(process.execPath, ['-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'], { stdio: ['pipe', 'ignore', 'ignore'] })
  }
  startSupervisorEarly('host', standIn)
  startSupervisorEarly('host', standIn) // a second config loaded (another project): still one
  expect(started).toEqual(['host'])
  const first = {}
  const second = {}
  const namespaceProject = {}
  const forNamespace = startSupervisorAhead('namespace', namespaceProject, standIn)
  const forFirst = startSupervisorAhead('host', first, standIn)
  const forSecond = startSupervisorAhead('host', second, standIn)
  try {
    expect(started).toEqual(['host', 'namespace', 'host'])
    expect(forSecond).not.toBe(forFirst)
    // Each global setup then takes its own project's.
    expect(takeSupervisor('host', first, standIn)).toBe(forFirst)
    expect(takeSupervisor('host', second, standIn)).toBe(forSecond)
    expect(takeSupervisor('namespace', namespaceProject, standIn)).toBe(forNamespace)
    expect(started).toHaveLength(3)
  } finally {
    await Promise.all(
      [forNamespace, forFirst, forSecond].map(async (child) => {
        const exited = once(child, 'exit')
        child.stdin!.end()
        await exited
      }),
    )
  }
})
