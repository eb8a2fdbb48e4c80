import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import type { ControlResponse } from '../protocol/control-protocol.js'
import { jsonLineSplitter } from '../protocol/json-lines.js'
import { serveControl } from './control-server.js'
import { PacketCaptures } from './packet-capture.js'

test('a malformed line gets an error answer and the socket goes on serving requests', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-control-'))
  const path = join(dir, 'control.sock')
  const server = serveControl(path, new Map(), { runId: '0123abcd' }, new PacketCaptures(dir), { reset: async () => undefined, used: () => {}, settled: async () => {} })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const socket = connect(path)
  const answers: ControlResponse[] = []
  const arrived = new Promise<void>((resolve) => {
    const split = jsonLineSplitter<ControlResponse>((answer) => {
      answers.push(answer)
      if (answers.length === 2) resolve()
    })
    socket.setEncoding('utf8')
    socket.on('data', split)
  })
  socket.write('{"id": 1, "op": \n')
  socket.write(`${JSON.stringify({ id: 2, op: 'serial.position', guest: 'nobody' })}\n`)
  await arrived
  socket.destroy()
  server.close()
  expect(answers).toEqual([
    { id: 0, ok: false, error: expect.stringMatching(/malformed request.*not JSON/) },
    { id: 2, ok: false, error: 'no guest named nobody' },
  ])
})
