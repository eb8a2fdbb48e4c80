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
