import { expect, test } from 'vitest'
import { ConsoleBuffer } from './console-buffer.js'

test('slices by absolute position across pieces, as one string would', () => {
  const buffer = new ConsoleBuffer(1 << 20)
  let all = ''
  for (let i = 0; i < 3000; i++) {
    const chunk = `chunk ${i} ${'x'.repeat(i % 97)}\r\n`
    buffer.append(chunk)
    all += chunk
  }
  expect(buffer.end).toBe(all.length)
  for (const [from, to] of [[0, 10], [5, 9000], [8190, 8200], [all.length - 100, all.length], [12345, 54321], [0, all.length]] as const) {
    expect(buffer.slice(from, to)).toBe(all.slice(from, to))
  }
  expect(buffer.slice(all.length - 5)).toBe(all.slice(-5))
  expect(buffer.slice(all.length + 5)).toBe('')
})

test('past the limit the oldest text is dropped; positions stay absolute', () => {
  const buffer = new ConsoleBuffer(100_000)
  let all = ''
  for (let i = 0; i < 50_000; i++) {
    const chunk = `${i},`
    buffer.append(chunk)
    all += chunk
  }
  expect(buffer.end).toBe(all.length)
  expect(buffer.start).toBeGreaterThan(0)
  expect(buffer.end - buffer.start).toBeGreaterThanOrEqual(100_000)
  expect(buffer.end - buffer.start).toBeLessThan(100_000 + 8 * 1024 + 10)
  expect(buffer.slice(0, 10)).toBe('')
  expect(buffer.slice(buffer.start)).toBe(all.slice(buffer.start))
  expect(buffer.slice(all.length - 1000, all.length - 10)).toBe(all.slice(-1000, -10))
})
