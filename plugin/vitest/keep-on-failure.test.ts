import { expect, test } from 'vitest'
import { keepMode } from './keep-on-failure.js'

test('VITEST_QEMU_KEEP: unset or off means never wait', () => {
  for (const value of [undefined, '', '0', 'false', 'no', 'never']) expect(keepMode(value)).toBe('never')
})

test('VITEST_QEMU_KEEP: 1 or on-failure keeps a failed run up', () => {
  for (const value of ['1', 'true', 'yes', 'on-failure', 'ON-FAILURE']) expect(keepMode(value)).toBe('on-failure')
})

test('VITEST_QEMU_KEEP: a value it does not know is an error that says what works', () => {
  expect(() => keepMode('always')).toThrow('VITEST_QEMU_KEEP=always is not understood; use VITEST_QEMU_KEEP=on-failure')
})
