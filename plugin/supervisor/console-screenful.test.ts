import { expect, test } from 'vitest'
import { lastScreenful, parseTerminalSize } from './console-screenful.js'

test('keeps the last rows - 1 lines (one is left for the attach message)', () => {
  const transcript = Array.from({ length: 50 }, (_, index) => `line ${index}\r`).join('\n') + '\nguestA:~# '
  const screen = lastScreenful(transcript, 5)
  expect(screen.split('\n')).toEqual(['line 47\r', 'line 48\r', 'line 49\r', 'guestA:~# '])
})

test('drops terminal queries, whose answers would be typed into the guest', () => {
  expect(lastScreenful('guestA:~# \u001b[6n', 24)).toBe('guestA:~# ')
  expect(lastScreenful('a\u001b[c b\u001b[>c c\u001b[5n', 24)).toBe('a b c')
  // Colours and cursor moves stay.
  expect(lastScreenful('\u001b[1;32mok\u001b[0m\u001b[2K', 24)).toBe('\u001b[1;32mok\u001b[0m\u001b[2K')
})

test("drops the lab's framed commands", () => {
  const id = '0123456789ab'
  const frame = `VQB${id}\r\naGVsbG8K\r\nVQM${id}\r\nVQE${id}_0\r\n`
  expect(lastScreenful(`boot done\r\nguestA:~# ${frame}guestA:~# `, 24)).toBe('boot done\r\nguestA:~# guestA:~# ')
})

test('parses the size a client sends, and refuses anything else', () => {
  expect(parseTerminalSize('50 160')).toEqual({ rows: 50, cols: 160 })
  expect(parseTerminalSize('0 80')).toBeUndefined()
  expect(parseTerminalSize('50x160')).toBeUndefined()
  expect(parseTerminalSize('GET / HTTP/1.1')).toBeUndefined()
})

test("drops a framed command's echoed line too, wrapped as busybox wraps it", () => {
  const id = 'c61d36e381e4'
  const echoed =
    `alpha:~# \u001b[6nprintf '%s\\n' 'VQ''B${id}'; ( stty -echo cols 1000 2>/dev/null; echo vq\r\n-ok\r\n) </dev/null >/tmp/.vq-${id}.o; ` +
    `printf '%s%s\\n' 'VQ''E${id.slice(0, 5)}\r\n${id.slice(5)}' "_$vq_rc"\r\r\n`
  const output = `VQB${id}\r\nvq-ok\r\n\r\nVQM${id}\r\n\r\nVQE${id}_0\r\n`
  expect(lastScreenful(`${echoed}${output}alpha:~# \u001b[6nuname -a\r\nLinux alpha\r\n`, 24)).toBe('alpha:~# alpha:~# uname -a\r\nLinux alpha\r\n')
})
