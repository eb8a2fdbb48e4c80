import { expect, test } from 'vitest'
import { bringToPresent, closedConnectionsCommand } from './guest-snapshot.js'
import { AgentUnavailableError, type GuestAgent } from './guest-agent.js'
import type { SerialConsole } from './serial-console.js'
import type { ByteExecResult } from '../protocol/exec-result.js'

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

// Stand-ins for the two channels: each records the commands it ran and answers with `answer`.
function channel(answer: (command: string) => ByteExecResult | Error) {
  const commands: string[] = []
  return {
    commands,
    notes: [] as string[],
    noteCommand(command: string, how: string) {
      this.notes.push(`${how}: ${command}`)
    },
    available: true,
    async exec(command: string) {
      commands.push(command)
      const result = answer(command)
      if (result instanceof Error) throw result
      return result
    },
  }
}
const said = (stdout: string, exitCode = 0): ByteExecResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode })

test('the clock is set through the agent, with the loopback ping that translates what tests run first when asked to warm up', async () => {
  const agent = channel(() => said('vq-now\n'))
  const console = channel(() => said('vq-now\n'))
  await bringToPresent({ agent: agent as unknown as GuestAgent, console: console as unknown as SerialConsole }, 5000, true)
  expect(agent.commands).toHaveLength(1)
  expect(agent.commands[0]).toMatch(/^date -s @\d+ >\/dev\/null && echo [0-9a-f]{128} > \/dev\/urandom && echo vq-now; ping -c 1 -W 1 127\.0\.0\.1 /)
  expect(console.commands).toEqual([])
  expect(console.notes).toEqual([`agent: ${agent.commands[0]}`])

  await bringToPresent({ agent: agent as unknown as GuestAgent, console: console as unknown as SerialConsole }, 5000)
  expect(agent.commands[1]).toMatch(/^date -s @\d+ >\/dev\/null && echo [0-9a-f]{128} > \/dev\/urandom && echo vq-now$/)
})

test('without an agent, or with one that is unavailable, the clock is set over the console', async () => {
  const console = channel(() => said('vq-now\n'))
  await bringToPresent({ console: console as unknown as SerialConsole }, 5000)
  expect(console.commands).toHaveLength(1)
  expect(console.commands[0]).not.toContain('ping')

  const gone = channel(() => new AgentUnavailableError('guestA: the agent is not available'))
  await bringToPresent({ agent: gone as unknown as GuestAgent, console: console as unknown as SerialConsole }, 5000)
  expect(gone.commands).toHaveLength(1)
  expect(console.commands).toHaveLength(2)
})

test('a clock command that does not answer vq-now fails, saying what the guest said; other agent errors are not hidden', async () => {
  const agent = channel(() => said('date: invalid date\n', 1))
  await expect(bringToPresent({ agent: agent as unknown as GuestAgent, console: channel(() => said('')) as unknown as SerialConsole }, 5000)).rejects.toThrow(
    "could not set the guest's clock: date: invalid date",
  )
  const timedOut = channel(() => new Error('guestA: command timed out after 5000 ms (agent)'))
  await expect(bringToPresent({ agent: timedOut as unknown as GuestAgent, console: channel(() => said('vq-now')) as unknown as SerialConsole }, 5000)).rejects.toThrow('timed out')
})
