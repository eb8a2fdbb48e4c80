import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  FrameParser,
  type FrameOutcome,
  MAX_TYPED_LINE_BYTES,
  SMALL_OUTPUT_BYTES,
  frameRawCommand,
  helperLines,
  parseRawFrame,
  resendCommand,
  setupText,
  stripEscapes,
  typedCommand,
} from './console-framing.js'

// What the helper prints for a command, as a serial console shows it (\r\n line ends):
// each non-empty stream in hex (small) or base64 lines, then the end line with lengths and MD5s.
function frameText(nonce: string, stdout: string | Buffer, stderr: string | Buffer, code: number, options: { lie?: boolean } = {}): string {
  const lines: string[] = ['']
  const summary: string[] = []
  for (const [type, data] of [['o', Buffer.from(stdout)], ['e', Buffer.from(stderr)]] as const) {
    if (data.length === 0) {
      summary.push('0 -')
      continue
    }
    if (data.length <= SMALL_OUTPUT_BYTES) lines.push(`${nonce}${type}:${data.toString('hex')}`)
    else for (const piece of data.toString('base64').match(/.{1,240}/g)!) lines.push(`${nonce}${type}${piece}`)
    summary.push(`${data.length} ${createHash('md5').update(options.lie ? 'other' : data).digest('hex')}`)
  }
  lines.push(`${nonce}z ${code} ${summary.join(' ')}`)
  return `${lines.join('\r\n')}\r\n`
}

/** Feeds text to a parser in chunks of `size` characters; the first outcome. */
function parse(nonce: string, text: string, size = 7): FrameOutcome | undefined {
  const parser = new FrameParser(nonce)
  for (let at = 0; at < text.length; at += size) {
    const outcome = parser.push(text.slice(at, at + size))
    if (outcome) return outcome
  }
  return undefined
}

const which = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim()
const ok = (stdout: string | Buffer, stderr: string | Buffer, exitCode: number) => ({ kind: 'ok', result: { stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), exitCode } })
const N = '0a1b2c3d4e'
const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256))
const foreign = [
  '[  12.345678] a kernel message',
  'daemon: something happened',
  'QUJDREVGR0g=', // valid base64
  `${'f'.repeat(10)}o:6f6b0a`, // another nonce's payload line
  'z 0 3 d41d8cd98f00b204e9800998ecf8427e 0 -', // an end line without its nonce
  `x${N}z 0 0 - 0 -`, // the nonce, but not at the start of the line
  'VQB0123\r\nVQE0123_0',
  '\u001b[6nguestA:~# \u001b[1;31mred\u001b[0m',
]

describe('FrameParser', () => {
  test('reads stdout, stderr and the exit code exactly, small (hex) and large (base64)', () => {
    expect(parse(N, frameText(N, 'ok\n', '', 0))).toEqual(ok('ok\n', '', 0))
    expect(parse(N, frameText(N, big, 'oops\n', 2), 1000)).toEqual(ok(big, 'oops\n', 2))
    expect(parse(N, frameText(N, '', '', 255))).toEqual(ok('', '', 255))
    expect(parse(N, frameText(N, 'no newline', '', 1))).toEqual(ok('no newline', '', 1))
  })

  test('the same result whatever the chunks: one character at a time, or all at once', () => {
    const text = frameText(N, big, 'err', 127)
    expect(parse(N, text, 1)).toEqual(ok(big, 'err', 127))
    expect(parse(N, text, text.length)).toEqual(ok(big, 'err', 127))
  })

  test('waits (undefined) until the end line is complete', () => {
    const text = frameText(N, 'partial\n', '', 0)
    expect(parse(N, text.slice(0, -3))).toBeUndefined()
  })

  test('ignores foreign lines between payload lines: kernel, daemons, valid base64, other nonces, marker imitations, escapes', () => {
    const lines = frameText(N, big, 'warning\n', 3).split('\r\n')
    const noisy = lines.flatMap((line, i) => [foreign[i % foreign.length]!, line]).join('\r\n')
    expect(parse(N, noisy)).toEqual(ok(big, 'warning\n', 3))
  })

  test('output holding marker-like text and this nonce comes back exact', () => {
    const tricky = `${N}z 0 0 - 0 -\n${N}o:00\nVQE0123_0\n`
    expect(parse(N, frameText(N, tricky, tricky, 0))).toEqual(ok(tricky, tricky, 0))
  })

  test('a foreign line spliced into the middle of a payload line fails verification, showing the line', () => {
    const clean = frameText(N, big, '', 0)
    const at = clean.indexOf(`${N}o`, 10) + 100
    for (const noise of ['QUJDREVGR0g=\r\n', 'kernel: hello\r\n', '\r\n']) {
      const outcome = parse(N, clean.slice(0, at) + noise + clean.slice(at))
      expect(outcome?.kind, JSON.stringify(noise)).toBe('bad')
    }
    const outcome = parse(N, clean.slice(0, at) + 'kernel: hello\r\n' + clean.slice(at))
    expect(outcome).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/stdout/) })
    expect(outcome?.kind === 'bad' && outcome.lines.join('\n')).toContain('kernel: hello')
  })

  test('kernel messages (which reach the UART directly) spliced anywhere, even into the nonce or the end line, are taken out', () => {
    const clean = frameText(N, big.subarray(0, 2000), 'warning\n', 127)
    const near = (at: number) => at < 400 || clean.length - at < 200
    for (let cut = 0; cut < clean.length; cut += near(cut) ? 1 : 41) {
      const noisy = clean.slice(0, cut) + `[  ${(100 + cut).toFixed(6)}] kernel noise ${cut}\r\n` + clean.slice(cut)
      expect(parse(N, noisy), `noise at ${cut}`).toEqual(ok(big.subarray(0, 2000), 'warning\n', 127))
    }
  })

  test('a spliced small (hex) line fails verification too', () => {
    const clean = frameText(N, 'hello world\n', '', 0)
    const at = clean.indexOf(':') + 6
    expect(parse(N, clean.slice(0, at) + 'daemon: x\r\n' + clean.slice(at))?.kind).toBe('bad')
  })

  test('a truncated frame (a payload line lost) fails verification', () => {
    const lines = frameText(N, big, '', 0).split('\r\n')
    lines.splice(3, 1)
    expect(parse(N, lines.join('\r\n'))).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/bytes arrived/) })
  })

  test('a duplicated payload line fails verification; a frame printed twice is read once', () => {
    const lines = frameText(N, big, '', 0).split('\r\n')
    lines.splice(3, 0, lines[3]!)
    expect(parse(N, lines.join('\r\n'))?.kind).toBe('bad')
    const once = frameText(N, 'twice\n', '', 0)
    expect(parse(N, once + once)).toEqual(ok('twice\n', '', 0))
  })

  test("an earlier command's frame is ignored, whole or in part", () => {
    const earlier = frameText('9999999999', 'old output\n', 'old\n', 1)
    expect(parse(N, earlier)).toBeUndefined()
    expect(parse(N, earlier.slice(0, 40) + frameText(N, 'new\n', '', 0))).toEqual(ok('new\n', '', 0))
  })

  test('an end line whose checksum does not match fails; so does a damaged line with the nonce', () => {
    expect(parse(N, frameText(N, 'data\n', '', 0, { lie: true }))?.kind).toBe('bad')
    const damaged = frameText(N, big, '', 0).replace(`${N}o`, `${N}o#`)
    expect(parse(N, damaged)).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/damaged/) })
  })

  test('imitations of the end line without the exact format are not taken for it', () => {
    const text = [`${N}z 0 3`, `${N}z 0 3 ${'0'.repeat(32)} 0 - extra`, `${N}zz 0 0 - 0 -`].join('\r\n') + '\r\n'
    expect(parse(N, text)).toBeUndefined()
    // They are ignored; the real frame that follows verifies.
    expect(parse(N, text + frameText(N, 'real\n', '', 0))).toEqual(ok('real\n', '', 0))
  })

  test('tells when the helper is missing (the guest was reset)', () => {
    expect(parse(N, `sh: vq: not found\r\n${N}m\r\n`)).toEqual({ kind: 'missing' })
  })
})

describe('typed text', () => {
  test('a short command is one line; the echo of what is typed holds no marker of the nonce', () => {
    const text = typedCommand('echo ok', N)
    expect(text).toBe(`vq ${N} 'echo ok'||echo '0a1''b2c3d4em'\n`)
    expect(setupText(N)).not.toMatch(new RegExp(`${N}i`))
    expect(resendCommand(N)).not.toContain(`${N}m`)
  })

  test.each([340, 2000])('a command of %i three-byte characters is typed in lines within the byte limit', (count) => {
    const text = typedCommand(`echo ${'€'.repeat(count)}`, N)
    for (const line of text.split('\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_TYPED_LINE_BYTES)
  })

  test('control characters are never typed as they are (the tty would act on them)', () => {
    expect(typedCommand("printf 'a\u0003b\u007f'", N)).not.toMatch(/[\u0003\u007f]/)
  })
})

describe('the helper, run by this machine’s sh', () => {
  // The guest's shell reads the helper, then commands; here sh stands in for it, with xxd and without.
  const withoutXxd = mkdtempSync(join(tmpdir(), 'vq-path-'))
  for (const tool of ['md5sum', 'stat', 'base64', 'sed', 'head', 'tr', 'wc', 'cat', 'printf']) symlinkSync(which(tool), join(withoutXxd, tool))
  const run = (command: string, options: { hideXxd?: boolean } = {}) => {
    const env = options.hideXxd ? { ...process.env, PATH: withoutXxd } : process.env
    const output = execFileSync('/bin/sh', [], { input: `${helperLines().join('\n')}\n${typedCommand(command, N)}`, encoding: 'utf8', env })
    return parse(N, output, 4096)
  }

  const longCommand = `echo "it's"; printf '%s' '${'€'.repeat(2000)}' | wc -c; printf 'a\\001b'; cat <<'EOF'\n${'line\n'.repeat(3)}EOF`
  test.each([
    ['echo ok', 'ok\n', '', 0],
    ['printf "no newline"; echo err >&2; exit 2', 'no newline', 'err\n', 2],
    ['exit 255', '', '', 255],
    ['head -c 3000 /dev/zero | tr "\\0" x', 'x'.repeat(3000), '', 0],
    ["printf '\\377\\000\\001'", Buffer.from([255, 0, 1]), '', 0],
    [longCommand, "it's\n6000\na\u0001bline\nline\nline\n", '', 0],
    ['echo $1 $#', '0\n', '', 0],
    ['echo "unterminated', '', /syntax error/i, 2],
  ] as const)('%#: runs the command and frames its output exactly', (command, stdout, stderr, code) => {
    const outcome = run(command)
    if (stderr instanceof RegExp) {
      expect(outcome).toMatchObject({ kind: 'ok', result: { stdout: Buffer.from(stdout), exitCode: code } })
      expect(outcome?.kind === 'ok' && outcome.result.stderr.toString()).toMatch(stderr)
    } else expect(outcome).toEqual(ok(stdout, stderr, code))
  })

  test('the same without xxd (base64 only, as in images without it)', () => {
    expect(run('echo ok; echo err >&2; exit 1', { hideXxd: true })).toEqual(ok('ok\n', 'err\n', 1))
  })
})

describe('raw frames (shells without base64)', () => {
  test('reads stdout, stderr and the exit code; \\r\\n becomes \\n', () => {
    const frame = frameRawCommand('x', 'f00d')
    const text = `VQBf00d\r\nline 1\r\nno newline\r\nVQMf00d\r\noops\r\n\r\nVQEf00d_2\r\n`
    expect(parseRawFrame(text, frame)?.result).toEqual({ stdout: 'line 1\nno newline', stderr: 'oops\n', exitCode: 2 })
  })

  test('the typed text never holds the markers', () => {
    const frame = frameRawCommand('echo hi', 'abc123')
    expect(frame.line).not.toContain(frame.begin)
    expect(frame.endPattern.test(frame.line)).toBe(false)
  })
})

test('strips terminal escapes: cursor queries, colours, bracketed paste', () => {
  expect(stripEscapes('a\u001b[6nb\u001b[1;31mred\u001b[0m\u001b[?2004hc\u001b]0;title\u0007d')).toBe('abredcd')
})
