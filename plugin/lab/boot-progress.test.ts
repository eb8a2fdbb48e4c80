import { expect, test } from 'vitest'
import { progressLine, summaryLines } from './boot-progress.js'

test('a live line names the guest, its last stage and the time so far, aligned', () => {
  expect(progressLine({ guest: 'a', stages: {}, done: false }, 400, 6)).toBe('  a       starting QEMU                0.4 s')
  expect(progressLine({ guest: 'router', stage: 'console', stages: { qemu: 200, console: 3100 }, done: false }, 3300, 6)).toBe(
    '  router  console ready, waiting       3.3 s',
  )
  expect(progressLine({ guest: 'a', stage: 'shell', stages: {}, done: true, note: 'saved for later runs in 0.4 s' }, 3400, 1)).toBe(
    '  a  ready                        3.4 s  (saved for later runs in 0.4 s)',
  )
})

test('the summary shows how each guest came up and its stages in boot order', () => {
  expect(
    summaryLines([
      { guest: 'guestA', stages: { shell: 3400, qemu: 200, console: 3100 }, booted: 'cold', done: true },
      { guest: 'b', stages: { qemu: 150, restore: 500, shell: 600 }, booted: 'restored', done: true },
    ]),
  ).toEqual(['  guestA  cold      qemu 0.2  console 3.1  shell 3.4 s', '  b       restored  qemu 0.1  restore 0.5  shell 0.6 s'])
})
