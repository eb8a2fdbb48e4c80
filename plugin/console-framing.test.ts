import { describe, expect, test } from 'vitest'
import { frameCommand, parseFrame, stripEscapes } from './console-framing.js'

// What a console shows for a framed command: the echo of the typed line (when echo is
// on), then the begin marker, stdout, the middle marker, stderr and the end marker, all
// with \r\n line ends.
function consoleOutput(frame: ReturnType<typeof frameCommand>, stdout: string, stderr: string, code: number, echo = true): string {
  const crlf = (text: string) => text.replace(/\n/g, '\r\n')
  return (
    (echo ? crlf(frame.line) : '') +
    crlf(`${frame.begin}\n${stdout}\n${frame.middle}\n${stderr}\nVQE${frame.id}_${code}\n`) +
    'guestA:~# \u001b[6n'
  )
}

describe('console framing', () => {
  test('the typed line never contains the markers, so its echo cannot match', () => {
    const frame = frameCommand('echo hi', 'abc123')
    expect(frame.line).not.toContain(frame.begin)
    expect(frame.line).not.toContain(frame.middle)
    expect(frame.endPattern.test(frame.line)).toBe(false)
  })

  test('reads stdout, stderr and the exit code exactly', () => {
    const frame = frameCommand('x', 'f00d')
    const parsed = parseFrame(consoleOutput(frame, 'line 1\nline 2\n', 'oops\n', 2), frame)
    expect(parsed?.result).toEqual({ stdout: 'line 1\nline 2\n', stderr: 'oops\n', exitCode: 2 })
  })

  test('keeps output without a trailing newline as it is, and empty output empty', () => {
    const frame = frameCommand('x', 'f00d')
    expect(parseFrame(consoleOutput(frame, 'no newline', '', 0), frame)?.result).toEqual({ stdout: 'no newline', stderr: '', exitCode: 0 })
    expect(parseFrame(consoleOutput(frame, '', '', 255), frame)?.result).toEqual({ stdout: '', stderr: '', exitCode: 255 })
  })

  test('output that looks like a marker or a prompt does not confuse it', () => {
    const frame = frameCommand('x', 'beef')
    const tricky = `VQBbeex\nVQEbeef\nguestA:~# \nVQE${'0'.repeat(12)}_0\n`
    expect(parseFrame(consoleOutput(frame, tricky, '', 1), frame)?.result.stdout).toBe(tricky)
  })

  test('waits (undefined) until the end marker has arrived', () => {
    const frame = frameCommand('x', 'cafe')
    const full = consoleOutput(frame, 'partial output\n', '', 0)
    expect(parseFrame(full.slice(0, full.indexOf('VQEcafe') + 5), frame)).toBeUndefined()
  })

  test('strips terminal escapes: cursor queries, colours, bracketed paste', () => {
    expect(stripEscapes('a\u001b[6nb\u001b[1;31mred\u001b[0m\u001b[?2004hc\u001b]0;title\u0007d')).toBe('abredcd')
  })
})
