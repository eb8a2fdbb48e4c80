import { expect, test } from 'vitest'
import { which } from './which.js'

test('finds a program on the PATH and nothing for a name that is no program', () => {
  expect(which('sh')).toMatch(/\/sh$/)
  expect(which('no-such-program-vq')).toBeUndefined()
})
