import { expect, test } from 'vitest'
import { splitAtDetachKey } from './detach-key.js'

test('input without Ctrl-] goes to the guest as it is', () => {
  expect(splitAtDetachKey(Buffer.from('uname -a\r'))).toEqual({ forward: Buffer.from('uname -a\r'), detach: false })
})

test('Ctrl-] detaches; what was typed before it in the same read still goes to the guest', () => {
  expect(splitAtDetachKey(Buffer.from([0x1d]))).toEqual({ forward: Buffer.alloc(0), detach: true })
  expect(splitAtDetachKey(Buffer.from('ls\r\u001dmore'))).toEqual({ forward: Buffer.from('ls\r'), detach: true })
})

test('other control keys (Ctrl-C, Escape) are not the detach key', () => {
  expect(splitAtDetachKey(Buffer.from([0x03, 0x1b, 0x5d])).detach).toBe(false)
})
