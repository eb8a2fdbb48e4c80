import { expect, test } from 'vitest'
import { readableConsole } from './readable-console.js'

test('payload lines come back as their output, end lines as the exit code, the rest as it was', () => {
  const hex = Buffer.from('ok\n').toString('hex')
  const b64 = Buffer.from('a'.repeat(180) + '\n').toString('base64')
  const text = [
    'Booting the kernel',
    '[vitest-qemu typed] echo ok',
    '',
    `0123456789o:${hex}`,
    `0123456789z 0 3 ${'a'.repeat(32)} 0 -`,
    '[vitest-qemu typed] big; false',
    `abcdef0123o${b64}`,
    `abcdef0123e:${Buffer.from('oops\n').toString('hex')}`,
    `abcdef0123z 1 181 ${'b'.repeat(32)} 5 ${'c'.repeat(32)}`,
    '[   12.345678] a kernel line',
    'fedcba9876i v2',
  ].join('\r\n')
  expect(readableConsole(text)).toBe(
    ['Booting the kernel', '[vitest-qemu typed] echo ok', 'ok', '(exit 0)', '[vitest-qemu typed] big; false', 'a'.repeat(180), 'stderr: oops', '(exit 1)', '[   12.345678] a kernel line'].join('\n'),
  )
})

test('ordinary lines that look a little like payload stay as they are', () => {
  expect(readableConsole('guestA:~# ls\nhello world\n0123456789 is a number')).toBe('guestA:~# ls\nhello world\n0123456789 is a number')
})
