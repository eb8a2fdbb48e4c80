import { spawn } from 'node:child_process'
import { expect, test, vi } from 'vitest'
import { supervisorEvents } from './supervisor-events.js'

// Events travel on fd 3 alone: what a supervisor (or a library in it) prints on stdout,
// even a line that looks like an event, is shown and never taken for one.

test('events come from fd 3; stdout lines are shown, never parsed; the exit ends the stream with its reason', async () => {
  const shown = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    const script = `
      const { writeSync } = require('node:fs')
      console.log('{"type":"ready","captures":[]}')
      console.log('a stray print')
      writeSync(3, JSON.stringify({ type: 'notice', message: 'from fd 3' }) + '\\n')
      writeSync(3, 'not json\\n')
      writeSync(3, JSON.stringify({ type: 'stopped' }) + '\\n')`
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] })
    const closed = new Promise((resolve) => child.once('close', resolve))
    const events = supervisorEvents(child)
    expect(await events.next()).toEqual({ type: 'notice', message: 'from fd 3' })
    expect(await events.next()).toEqual({ type: 'stopped' })
    await expect(events.next()).rejects.toThrow(/the supervisor exited \(code 0\)/)
    // Every stream read to its end before looking at what was shown.
    await closed
    const printed = shown.mock.calls.map(([text]) => String(text)).join('')
    expect(printed).toContain('supervisor: a stray print')
    expect(printed).toContain('supervisor: {"type":"ready","captures":[]}')
    expect(printed).toMatch(/sent something that is not an event/)
  } finally {
    shown.mockRestore()
  }
})

test("'launched' is waited for apart from the other events; a supervisor that dies first ends that wait too", async () => {
  const run = (script: string) => {
    const child = spawn(process.execPath, ['-e', `const { writeSync } = require('node:fs'); ${script}`], { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] })
    return { child, events: supervisorEvents(child) }
  }
  // This one lives until its stdin closes, so 'launched' can only come from the event.
  const launching = run(`
    writeSync(3, JSON.stringify({ type: 'progress', guest: 'a', stage: 'qemu', elapsedMs: 1 }) + '\\n')
    writeSync(3, JSON.stringify({ type: 'launched' }) + '\\n')
    writeSync(3, JSON.stringify({ type: 'stopped' }) + '\\n')
    process.stdin.resume()`)
  await launching.events.launched()
  expect(launching.child.exitCode).toBeNull()
  // The boot's own events keep their order, without the 'launched' one.
  expect(await launching.events.next()).toMatchObject({ type: 'progress', guest: 'a' })
  expect(await launching.events.next()).toEqual({ type: 'stopped' })
  launching.child.stdin!.end()

  const dying = run('process.exit(3)')
  await dying.events.launched()
  await expect(dying.events.next()).rejects.toThrow(/the supervisor exited \(code 3\)/)
})
