import { expect, test, vi } from 'vitest'
import { BootPriority, type PriorityFiles } from './boot-priority.js'

function files(enabled = '1', fail?: (text: string) => NodeJS.ErrnoException | undefined) {
  const writes: string[] = []
  const stand: PriorityFiles = {
    read: (path) => {
      expect(path).toBe('/proc/sys/kernel/sched_autogroup_enabled')
      return `${enabled}\n`
    },
    write: (path, text) => {
      expect(path).toBe('/proc/self/autogroup')
      const error = fail?.(text)
      if (error) throw error
      writes.push(text)
    },
  }
  return { writes, stand }
}
const errno = (code: string) => Object.assign(new Error(code), { code })

test("the session's group runs at nice -5 while any boot or reset holds it, and at 0 once the last lets go", () => {
  const { writes, stand } = files()
  const priority = new BootPriority(stand)
  const boot = priority.hold()
  const reset = priority.hold()
  expect(writes).toEqual(['-5'])
  boot()
  boot() // twice is once
  expect(writes).toEqual(['-5'])
  reset()
  expect(writes).toEqual(['-5', '0'])
  priority.hold()
  expect(writes).toEqual(['-5', '0', '-5'])
})

test('without autogroups, or without the privilege, nothing is written and nothing fails', () => {
  const off = files('0')
  const release = new BootPriority(off.stand).hold()
  release()
  expect(off.writes).toEqual([])

  let tries = 0
  const denied = files('1', () => (tries++, errno('EPERM')))
  const priority = new BootPriority(denied.stand)
  priority.hold()()
  priority.hold()()
  expect(tries).toBe(1) // learnt once, not tried at every boot
})

test('a way back the kernel refuses for now (EAGAIN) is tried again a tenth of a second later', () => {
  vi.useFakeTimers()
  try {
    let refuse = true
    const { writes, stand } = files('1', (text) => (text === '0' && refuse ? errno('EAGAIN') : undefined))
    const priority = new BootPriority(stand)
    priority.hold()()
    expect(writes).toEqual(['-5'])
    refuse = false
    vi.advanceTimersByTime(120)
    expect(writes).toEqual(['-5', '0'])
  } finally {
    vi.useRealTimers()
  }
})
