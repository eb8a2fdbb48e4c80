import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { connectWithRetry } from './connect-retry.js'

const scratch = mkdtempSync(join(tmpdir(), 'vq-connect-'))

test('connects once the socket appears', async () => {
  const path = join(scratch, 'late.sock')
  const server = createServer((socket) => socket.end())
  setTimeout(() => server.listen(path), 100)
  const socket = await connectWithRetry(path, { deadline: Date.now() + 5000, what: 'late' })
  socket.destroy()
  server.close()
})

test('gives up at the deadline, naming what it waited for and the last error', async () => {
  const started = Date.now()
  await expect(connectWithRetry(join(scratch, 'never.sock'), { deadline: Date.now() + 200, what: 'guest a: the serial console' })).rejects.toThrow(/^guest a: the serial console: .*ENOENT/)
  expect(Date.now() - started).toBeGreaterThanOrEqual(190)
})

test('a closed client stops retrying at once and never takes the socket a later process serves', async () => {
  const path = join(scratch, 'reused.sock')
  const closing = new AbortController()
  const waiting = connectWithRetry(path, { deadline: Date.now() + 5000, what: 'old client', signal: closing.signal })
  await new Promise((resolve) => setTimeout(resolve, 60))
  closing.abort(new Error('closed'))
  await expect(waiting).rejects.toThrow('closed')
  // The next process on that path: its only client is the new one.
  const clients: unknown[] = []
  const server = createServer((socket) => {
    clients.push(socket)
    socket.end()
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  const fresh = await connectWithRetry(path, { deadline: Date.now() + 5000, what: 'new client' })
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(clients).toHaveLength(1)
  fresh.destroy()
  server.close()
})
