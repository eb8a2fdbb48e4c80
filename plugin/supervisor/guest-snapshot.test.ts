import { expect, test } from 'vitest'
import { closedConnectionsCommand } from './guest-snapshot.js'

test('the wait before a save looks for the port in every state but LISTEN and TIME_WAIT', () => {
  const command = closedConnectionsCommand(22)
  const pattern = new RegExp(/grep -qE '([^']+)'/.exec(command)![1]!)
  const line = (state: string, local = '0200580A:0016') => `   1: ${local} FE58580A:8F0E ${state} 00000000:00000000 00:00000000 00000000     0        0 1234`
  expect(pattern.test(line('01'))).toBe(true) // ESTABLISHED
  expect(pattern.test(line('09'))).toBe(true) // LAST_ACK
  expect(pattern.test(line('04'))).toBe(true) // FIN_WAIT1
  expect(pattern.test(line('0B'))).toBe(true) // CLOSING
  expect(pattern.test(line('0A'))).toBe(false) // LISTEN
  expect(pattern.test(line('06'))).toBe(false) // TIME_WAIT
  expect(pattern.test(line('01', '0200580A:0050'))).toBe(false) // another port
  expect(pattern.test(line('01', '00000000000000000000000001000000:0016'))).toBe(true) // IPv6
  expect(closedConnectionsCommand(2222)).toContain(':08AE ')
})
