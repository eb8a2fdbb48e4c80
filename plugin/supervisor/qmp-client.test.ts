import { mkdtempSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { QmpClient } from './qmp-client.js'

// A QMP peer that answers in order, as QEMU does, each command after a delay it chooses.
function qmpPeer(path: string, delayOf: (command: string) => number) {
  let queue = Promise.resolve()
  const server = createServer((socket: Socket) => {
    socket.write('{"QMP": {"version": {}, "capabilities": []}}\n')
    let buffer = ''
    socket.on('data', (chunk) => {
      buffer += chunk.toString()
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const { execute } = JSON.parse(buffer.slice(0, newline)) as { execute: string }
        buffer = buffer.slice(newline + 1)
        socket.write('{"event": "SOMETHING"}\n')
        queue = queue.then(() => new Promise((resolve) => setTimeout(resolve, delayOf(execute)))).then(() => void socket.write(`${JSON.stringify({ return: { answered: execute } })}\n`))
      }
    })
  })
  server.listen(path)
  return server
}

test('a command without an answer rejects at its deadline, naming the guest, and its late answer is not taken for the next one', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'vq-qmp-')), 'qmp.sock')
  const server = qmpPeer(path, (command) => (command === 'slow' ? 400 : 0))
  const client = new QmpClient('guestA', path)
  await client.connect(Date.now() + 5000)
  await expect(client.command('slow', undefined, 100)).rejects.toThrow('guestA: QMP slow got no answer within 100 ms (QEMU stopped or hung)')
  expect(await client.command('fast')).toEqual({ answered: 'fast' })
  client.close()
  server.close()
})
