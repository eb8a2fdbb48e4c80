import { describe, expect, test } from 'vitest'
import { execFileSync } from 'node:child_process'
import { type Frame, type FrameEncoding, MAX_TYPED_LINE, frameCommand, parseFrame, stripEscapes } from './console-framing.js'

// What a serial console shows for a framed command (echo off, as set at attach):
// the begin marker, stdout, the middle marker, stderr and the end marker, with the
// tty's \r\n line ends, then the next prompt with busybox's cursor query.
function consoleOutput(frame: Frame, stdout: string, stderr: string, code: number): string {
  const crlf = (text: string) => text.replace(/\n/g, '\r\n')
  const show = (text: string) =>
    frame.encoding === 'base64' ? (Buffer.from(text).toString('base64').match(/.{1,76}/g) ?? []).map((line) => `${line}\n`).join('') : `${text}\n`
  return crlf(`${frame.begin}\n${show(stdout)}${frame.middle}\n${show(stderr)}VQE${frame.id}_${code}\n`) + 'guestA:~# \u001b[6n'
}

const kernelLine = (n: number) => `[ ${(100 + n).toFixed(6)}] noise from /dev/kmsg ${n}\r\n`

describe.each<FrameEncoding>(['base64', 'raw'])('console framing (%s)', (encoding) => {
  test('the typed line never contains the markers, so its echo cannot match', () => {
    const frame = frameCommand('echo hi', encoding, 'abc123')
    expect(frame.line).not.toContain(frame.begin)
    expect(frame.line).not.toContain(frame.middle)
    expect(frame.endPattern.test(frame.line)).toBe(false)
  })

  test('reads stdout, stderr and the exit code exactly', () => {
    const frame = frameCommand('x', encoding, 'f00d')
    expect(parseFrame(consoleOutput(frame, 'line 1\nline 2\n', 'oops\n', 2), frame)?.result).toEqual({ stdout: 'line 1\nline 2\n', stderr: 'oops\n', exitCode: 2 })
  })

  test('keeps output without a trailing newline as it is, and empty output empty', () => {
    const frame = frameCommand('x', encoding, 'f00d')
    expect(parseFrame(consoleOutput(frame, 'no newline', '', 0), frame)?.result).toEqual({ stdout: 'no newline', stderr: '', exitCode: 0 })
    expect(parseFrame(consoleOutput(frame, '', '', 255), frame)?.result).toEqual({ stdout: '', stderr: '', exitCode: 255 })
  })

  test('output that looks like a marker or a prompt does not confuse it', () => {
    const frame = frameCommand('x', encoding, 'beef')
    const tricky = `VQBbeex\nVQMdead\nguestA:~# \nVQE${'0'.repeat(12)}_0\n`
    expect(parseFrame(consoleOutput(frame, tricky, '', 1), frame)?.result.stdout).toBe(tricky)
  })

  test('waits (undefined) until the end marker has arrived', () => {
    const frame = frameCommand('x', encoding, 'cafe')
    const full = consoleOutput(frame, 'partial output\n', '', 0)
    expect(parseFrame(full.slice(0, full.indexOf('VQEcafe') + 5), frame)).toBeUndefined()
  })
})

describe('console framing, base64', () => {
  test("even output holding this very frame's markers comes back exact", () => {
    const frame = frameCommand('x', 'base64', 'beef')
    const tricky = 'VQBbeef\nVQMbeef\nVQEbeef_3\n'
    expect(parseFrame(consoleOutput(frame, tricky, tricky, 0), frame)?.result).toEqual({ stdout: tricky, stderr: tricky, exitCode: 0 })
  })

  test('kernel messages landing anywhere, even inside a marker, leave the base64 frame exact', () => {
    const frame = frameCommand('x', 'base64', '0a1b2c')
    const stdout = `${'x'.repeat(10_000)}\nprompt-like: guestA:~# \nno newline at the end`
    const clean = consoleOutput(frame, stdout, 'warning\n', 127)
    // Every position around the markers, every 37th in the long output between them.
    const near = (at: number) => at < 300 || clean.length - at < 400
    for (let cut = 0; cut < clean.length - 12; cut += near(cut) ? 1 : 37) {
      const noisy = clean.slice(0, cut) + kernelLine(cut) + clean.slice(cut)
      expect(parseFrame(noisy, frame)?.result, `noise at ${cut}`).toEqual({ stdout, stderr: 'warning\n', exitCode: 127 })
    }
  })
})

test('strips terminal escapes: cursor queries, colours, bracketed paste', () => {
  expect(stripEscapes('a\u001b[6nb\u001b[1;31mred\u001b[0m\u001b[?2004hc\u001b]0;title\u0007d')).toBe('abredcd')
})

describe('long commands', () => {
  const long = `echo "it's"; printf '%s' '${'x'.repeat(10_000)}' | wc -c; cat <<'EOF'\n${'line\n'.repeat(3)}EOF`

  test('no typed line is longer than a console takes', () => {
    const frame = frameCommand(long, 'base64', 'abcd')
    for (const line of frame.line.split('\n')) expect(line.length).toBeLessThanOrEqual(MAX_TYPED_LINE + 300)
  })

  test.each<FrameEncoding>(['base64', 'raw'])('a shell given the typed text runs the command exactly (%s)', (encoding) => {
    const frame = frameCommand(long, encoding)
    const output = execFileSync('sh', [], { input: frame.line, encoding: 'utf8' })
    expect(parseFrame(output, frame)?.result).toEqual({ stdout: "it's\n10000\nline\nline\nline\n", stderr: '', exitCode: 0 })
  })
})
