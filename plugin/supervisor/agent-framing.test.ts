import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { type AgentMessage, AgentFrameReader, agentRequest } from './agent-framing.js'

function read(chunks: (string | Buffer)[]): AgentMessage[] {
  const messages: AgentMessage[] = []
  const reader = new AgentFrameReader((message) => messages.push(message))
  for (const chunk of chunks) reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'))
  return messages
}

const frame = (id: string, stdout: Buffer | string, stderr: Buffer | string, code: number) =>
  Buffer.concat([Buffer.from(`VQA:${id}:S\n`), Buffer.from(stdout), Buffer.from(`VQA:${id}:E\n`), Buffer.from(stderr), Buffer.from(`VQA:${id}:X:${code}\n`)])

describe('AgentFrameReader', () => {
  test('a frame gives its stdout, stderr and exit code exactly, without trailing newlines added', () => {
    expect(read([frame('a1', 'ok\n', '', 0), frame('a2', 'no newline', 'err\n', 2)])).toEqual([
      { type: 'result', id: 'a1', stdout: Buffer.from('ok\n'), stderr: Buffer.alloc(0), exitCode: 0 },
      { type: 'result', id: 'a2', stdout: Buffer.from('no newline'), stderr: Buffer.from('err\n'), exitCode: 2 },
    ])
  })

  test('any bytes, in chunks cut anywhere, markers included', () => {
    const stdout = randomBytes(70_000)
    const stderr = Buffer.from('VQA:other:E\nVQA:b:E no\n\0\xff')
    const whole = frame('b', stdout, stderr, 255)
    for (const size of [1, 7, 13, 4096]) {
      const chunks: Buffer[] = []
      for (let at = 0; at < whole.length; at += size) chunks.push(whole.subarray(at, at + size))
      const [message] = read(chunks)
      expect(message).toMatchObject({ type: 'result', id: 'b', exitCode: 255 })
      expect((message as Extract<AgentMessage, { type: 'result' }>).stdout.equals(stdout)).toBe(true)
      expect((message as Extract<AgentMessage, { type: 'result' }>).stderr.equals(stderr)).toBe(true)
    }
  })

  test('bytes outside frames are skipped; pings are answered by id', () => {
    expect(read(['noise\nVQA:p1:P\nmore noise', '\n', frame('c', 'x', '', 1)])).toEqual([
      { type: 'pong', id: 'p1' },
      { type: 'result', id: 'c', stdout: Buffer.from('x'), stderr: Buffer.alloc(0), exitCode: 1 },
    ])
  })

  test('10 MB of output in 64 KiB chunks (a reader that rescans would run past the test timeout)', () => {
    const stdout = Buffer.alloc(10 * 1024 * 1024, 'y')
    const whole = frame('big', stdout, '', 0)
    const chunks: Buffer[] = []
    for (let at = 0; at < whole.length; at += 65536) chunks.push(whole.subarray(at, at + 65536))
    const [message] = read(chunks)
    expect((message as Extract<AgentMessage, { type: 'result' }>).stdout.length).toBe(stdout.length)
  })
})

test('a request carries the command as its lines, empty ones and a trailing newline kept', () => {
  expect(agentRequest('r1', 'echo a\n\necho b\n')).toBe('X r1 4\necho a\n\necho b\n\n')
  expect(agentRequest('r2', 'true')).toBe('X r2 1\ntrue\n')
})
