import { expect, test } from 'vitest'
import { validateRequest } from './control-protocol.js'

test('requests of the right shape pass; anything else is named with the id to answer', () => {
  expect(validateRequest({ id: 3, op: 'agent.exec', guest: 'a', command: 'true', timeout: 1000 })).toEqual({ request: { id: 3, op: 'agent.exec', guest: 'a', command: 'true', timeout: 1000 } })
  expect(validateRequest({ id: 4, op: 'serial.slice', guest: 'a', from: 0 })).toHaveProperty('request')
  expect(validateRequest([1, 2])).toEqual({ id: 0, error: 'a request is a JSON object' })
  expect(validateRequest({ op: 'qmp' })).toEqual({ id: 0, error: 'a request needs a positive integer id' })
  expect(validateRequest({ id: 5, op: 'rm -rf' })).toEqual({ id: 5, error: 'unknown request op "rm -rf"' })
  expect(validateRequest({ id: 6, op: 'toString' })).toEqual({ id: 6, error: 'unknown request op "toString"' })
  expect(validateRequest({ id: 7, op: 'agent.exec', guest: 'a', command: ['sh'], timeout: 1 })).toEqual({ id: 7, error: 'agent.exec: command must be a string' })
  expect(validateRequest({ id: 8, op: 'lab.partition', name: 'p', a: ['x'], b: [1] })).toEqual({ id: 8, error: 'lab.partition: b must be an array of strings' })
  expect(validateRequest({ id: 9, op: 'serial.exec', guest: 'a', command: 'x', timeout: Number.NaN })).toEqual({ id: 9, error: 'serial.exec: timeout must be a number' })
})
