import { randomBytes } from 'node:crypto'
import { expect, test } from 'vitest'
import { fromWire, toWire } from './exec-result.js'

test('any bytes cross the JSON line exactly', () => {
  const stdout = randomBytes(100_000)
  const stderr = Buffer.from([0, 0xff, 0xfe, 0x0a, 0x0d])
  const back = fromWire(JSON.parse(JSON.stringify(toWire({ stdout, stderr, exitCode: 255 }))))
  expect(back.stdout.equals(stdout)).toBe(true)
  expect(back.stderr.equals(stderr)).toBe(true)
  expect(back.exitCode).toBe(255)
})
