import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, onTestFinished, test } from 'vitest'
import type { ControlResponse } from '../protocol/control-protocol.js'
import { jsonLineSplitter } from '../protocol/json-lines.js'
import { type LabReset, serveControl } from './control-server.js'
import type { GuestProcess } from './guest-process.js'
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

// A control client on the socket: sends requests, collects the answers by id.
async function controlPeer(guests: Map<string, GuestProcess>, labReset: LabReset) {
  const dir = mkdtempSync(join(tmpdir(), 'vq-control-'))
  const path = join(dir, 'control.sock')
  const server = serveControl(path, guests, { runId: '0123abcd' }, new PacketCaptures(dir), labReset)
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const socket = connect(path)
  const waiting = new Map<number, (answer: ControlResponse) => void>()
  socket.setEncoding('utf8')
  socket.on('data', jsonLineSplitter<ControlResponse>((answer) => waiting.get(answer.id)?.(answer)))
  onTestFinished(() => {
    socket.destroy()
    server.close()
  })
  return {
    request: (request: Record<string, unknown> & { id: number }) =>
      new Promise<ControlResponse>((resolve) => {
        waiting.set(request.id, resolve)
        socket.write(`${JSON.stringify(request)}\n`)
      }),
    close: () => socket.destroy(),
  }
}

/** A guest whose console records what it is asked; `expect` waits until its signal aborts. */
function fakeGuest(name: string) {
  const calls: string[] = []
  const aborted: string[] = []
  const guest = {
    plan: { name },
    unlessExited: <T>(work: () => Promise<T>) => work(),
    console: {
      position: 42,
      slice: (from: number, to?: number) => `text ${from}-${to ?? 'end'}`,
      type: async (text: string) => void calls.push(`send ${text}`),
      exec: async (command: string) => {
        calls.push(`exec ${command}`)
        return { stdout: Buffer.from(`ran ${command}\n`), stderr: Buffer.alloc(0), exitCode: 0 }
      },
      expect: (regex: RegExp, options: { signal?: AbortSignal }) =>
        new Promise((_, reject) => {
          calls.push(`expect ${regex.source}`)
          options.signal?.addEventListener('abort', () => {
            aborted.push(String((options.signal!.reason as Error).message))
            reject(options.signal!.reason)
          })
        }),
    },
  }
  return { guest: guest as unknown as GuestProcess, calls, aborted }
}

function labResetSpy() {
  const log: string[] = []
  let release: () => void = () => {}
  let gate: Promise<void> = Promise.resolve()
  const labReset: LabReset = {
    reset: async (ifUsed) => {
      log.push(`reset ${ifUsed}`)
      if (ifUsed === false && log.includes('fail-next')) throw new Error('the reset failed')
      return { reset: ['guestA'] }
    },
    used: () => void log.push('used'),
    settled: () => gate,
  }
  return {
    labReset,
    log,
    /** Holds every request until `release()`, as a reset under way does. */
    hold: () => {
      gate = new Promise((resolve) => (release = resolve))
    },
    release: () => release(),
  }
}

test('requests reach the named guest; reading the console does not count as using the lab, the rest does', async () => {
  const { guest, calls } = fakeGuest('guestA')
  const spy = labResetSpy()
  const peer = await controlPeer(new Map([['guestA', guest]]), spy.labReset)
  expect(await peer.request({ id: 1, op: 'serial.position', guest: 'guestA' })).toEqual({ id: 1, ok: true, result: 42 })
  expect(await peer.request({ id: 2, op: 'serial.slice', guest: 'guestA', from: 3, to: 9 })).toEqual({ id: 2, ok: true, result: 'text 3-9' })
  expect(spy.log).toEqual([])
  const exec = await peer.request({ id: 3, op: 'serial.exec', guest: 'guestA', command: 'uname', timeout: 1000 })
  expect(exec).toEqual({ id: 3, ok: true, result: { stdout: Buffer.from('ran uname\n').toString('base64'), stderr: '', exitCode: 0 } })
  expect(await peer.request({ id: 4, op: 'serial.send', guest: 'guestA', text: 'x\n' })).toMatchObject({ id: 4, ok: true })
  expect(spy.log).toEqual(['used', 'used'])
  expect(calls).toEqual(['exec uname', 'send x\n'])
  expect(await peer.request({ id: 5, op: 'serial.position', guest: 'guestB' })).toEqual({ id: 5, ok: false, error: 'no guest named guestB' })
})

test('while a reset is under way, requests wait for it and are then answered', async () => {
  const { guest, calls } = fakeGuest('guestA')
  const spy = labResetSpy()
  const peer = await controlPeer(new Map([['guestA', guest]]), spy.labReset)
  spy.hold()
  let answered = false
  const pending = peer.request({ id: 1, op: 'serial.exec', guest: 'guestA', command: 'date', timeout: 1000 }).then((answer) => {
    answered = true
    return answer
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(answered).toBe(false)
  expect(calls).toEqual([])
  spy.release()
  expect(await pending).toMatchObject({ id: 1, ok: true })
  expect(calls).toEqual(['exec date'])
})

test('lab.reset answers with what the reset returned, or its error', async () => {
  const spy = labResetSpy()
  const peer = await controlPeer(new Map(), spy.labReset)
  expect(await peer.request({ id: 7, op: 'lab.reset', ifUsed: true })).toEqual({ id: 7, ok: true, result: { reset: ['guestA'] } })
  spy.log.push('fail-next')
  expect(await peer.request({ id: 8, op: 'lab.reset', ifUsed: false })).toEqual({ id: 8, ok: false, error: 'the reset failed' })
  expect(spy.log.filter((entry) => entry.startsWith('reset'))).toEqual(['reset true', 'reset false'])
})

test('serial.cancel ends the named wait of its connection; a client that goes away ends its waits', async () => {
  const { guest, aborted } = fakeGuest('guestA')
  const spy = labResetSpy()
  const peer = await controlPeer(new Map([['guestA', guest]]), spy.labReset)
  const waiting = peer.request({ id: 11, op: 'serial.expect', guest: 'guestA', source: 'login:', flags: '', timeout: 60_000 })
  // Cancelling a wait that is not there changes nothing.
  expect(await peer.request({ id: 12, op: 'serial.cancel', target: 999 })).toEqual({ id: 12, ok: true, result: null })
  expect(await peer.request({ id: 13, op: 'serial.cancel', target: 11 })).toEqual({ id: 13, ok: true, result: null })
  expect(await waiting).toEqual({ id: 11, ok: false, error: 'aborted by the client (request 11)' })

  void peer.request({ id: 14, op: 'serial.expect', guest: 'guestA', source: 'never', flags: '', timeout: 60_000 })
  await new Promise((resolve) => setTimeout(resolve, 30))
  peer.close()
  for (let i = 0; i < 50 && aborted.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  expect(aborted).toEqual(['aborted by the client (request 11)', 'the client went away'])
})

test('a request that fails validation is refused with its id, and the next one is served', async () => {
  const { guest } = fakeGuest('guestA')
  const peer = await controlPeer(new Map([['guestA', guest]]), labResetSpy().labReset)
  const refused = await peer.request({ id: 21, op: 'serial.exec', guest: 'guestA' })
  expect(refused).toMatchObject({ id: 21, ok: false, error: expect.stringContaining('vitest-qemu: a request was refused') })
  expect(await peer.request({ id: 22, op: 'serial.position', guest: 'guestA' })).toEqual({ id: 22, ok: true, result: 42 })
})
