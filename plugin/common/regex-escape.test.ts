import { expect, test } from 'vitest'
import { escapeRegExp } from './regex-escape.js'

test('every special character matches itself', () => {
  const text = 'a.b*c+d?e^f$g{h}i(j)k|l[m]n\\o/p'
  expect(new RegExp(`^${escapeRegExp(text)}$`).test(text)).toBe(true)
  expect(new RegExp(escapeRegExp('a.b')).test('axb')).toBe(false)
})
