import { expect, test } from 'vitest'
import { formatBytes } from './format-bytes.js'

test('GiB with one decimal from 1 GiB up, whole MiB below', () => {
  expect(formatBytes(4096 * 2 ** 20)).toBe('4.0 GiB')
  expect(formatBytes(1.5 * 2 ** 30)).toBe('1.5 GiB')
  expect(formatBytes(512 * 2 ** 20)).toBe('512 MiB')
  expect(formatBytes(1023.6 * 2 ** 20)).toBe('1024 MiB')
  expect(formatBytes(0)).toBe('0 MiB')
})
