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
