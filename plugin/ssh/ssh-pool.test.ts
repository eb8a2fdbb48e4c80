import { mkdtempSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { afterEach, expect, test } from 'vitest'
import { TimeoutError } from '../common/deadline.js'
import { SshPool } from './ssh-pool.js'

// SshPool against an SSH server in this process (ssh2's own) on a unix socket. The
// server runs commands of one made-up form, `wait <ms> <text>`: it answers <text> after
// <ms>, so a test decides how long each command keeps its connection busy; `wait hold
// <text>` answers once the test calls release().

const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private

interface FakeServer {
  path: string
  /** Connections the server accepted (handshake and login done). */
  connections: number
  /** Commands running now, and the most that ran at once. */
  running: number
  mostRunning: number
  /** Ends every client connection the server holds (the guest was reset). */
  dropAll(): void
  /** Lets every `wait hold` command answer. */
  release(): void
  close(): void
}

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
})

async function fakeServer(): Promise<FakeServer> {
  const path = join(mkdtempSync(join(tmpdir(), 'vq-ssh-pool-')), 'ssh.sock')
  const clients = new Set<ssh2.Connection>()
  const held: (() => void)[] = []
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client)
    client.on('error', () => {})
    client.on('close', () => clients.delete(client))
    client.on('authentication', (context) => context.accept())
    client.on('ready', () => {
      state.connections++
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec()
          const [, ms, text] = /^wait (\d+|hold) (.*)$/.exec(info.command) ?? [undefined, '0', `unknown command ${info.command}`]
          state.running++
          state.mostRunning = Math.max(state.mostRunning, state.running)
          const answer = () => {
            state.running--
            if (stream.destroyed) return
            stream.write(`${text}\n`)
            stream.exit(0)
            stream.end()
          }
          if (ms === 'hold') held.push(answer)
          else setTimeout(answer, Number(ms))
        })
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  const state: FakeServer = {
    path,
    connections: 0,
    running: 0,
    mostRunning: 0,
    dropAll: () => {
      for (const client of clients) client.end()
    },
    release: () => {
      for (const answer of held.splice(0)) answer()
    },
    close: () => {
      state.dropAll()
      server.close()
    },
  }
  cleanups.push(state.close)
  return state
}

function poolFor(server: FakeServer): SshPool {
  const pool = new SshPool(
    'guestA',
    async () => {
      const socket: Socket = connect(server.path)
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
      return socket
    },
    async () => ({ user: 'root', password: '' }),
  )
  cleanups.push(() => pool.close())
  return pool
}

const stdout = (result: { stdout: Buffer }) => result.stdout.toString()

test('commands at once get connections of their own, at most four; the rest wait for a free one and reuse it', async () => {
  const server = await fakeServer()
  const pool = poolFor(server)
  const results = await Promise.all(Array.from({ length: 7 }, (_, i) => pool.exec(`wait 80 answer-${i}`)))
  expect(results.map(stdout)).toEqual(Array.from({ length: 7 }, (_, i) => `answer-${i}\n`))
  expect(results.every((result) => result.exitCode === 0)).toBe(true)
  expect(server.mostRunning).toBe(4)
  expect(server.connections).toBe(4)
  // Later commands take the idle connections: no new handshake.
  expect(stdout(await pool.exec('wait 0 again'))).toBe('again\n')
  expect(server.connections).toBe(4)
})

test('one command after another uses one connection', async () => {
  const server = await fakeServer()
  const pool = poolFor(server)
  for (let i = 0; i < 3; i++) expect(stdout(await pool.exec(`wait 0 turn-${i}`))).toBe(`turn-${i}\n`)
  expect(server.connections).toBe(1)
  expect(server.mostRunning).toBe(1)
})

test('a timeout spent waiting for a free connection says the command never started', async () => {
  const server = await fakeServer()
  const pool = poolFor(server)
  // Four commands that keep their connections until released: none is free for the fifth.
  const busy = Array.from({ length: 4 }, (_, i) => pool.exec(`wait hold busy-${i}`))
  while (server.running < 4) await new Promise((resolve) => setTimeout(resolve, 10))
  const late = pool.exec('wait 0 late', { timeout: 150 })
  await expect(late).rejects.toThrow(TimeoutError)
  await expect(late).rejects.toThrow(/^guestA: ssh exec timed out after 150 ms before the command started \(guestA: no SSH connection became free before the deadline\): wait 0 late$/)
  server.release()
  expect((await Promise.all(busy)).map(stdout)).toEqual(['busy-0\n', 'busy-1\n', 'busy-2\n', 'busy-3\n'])
})

test('a command that outlives its timeout is named, and its connection is replaced by a new one', async () => {
  const server = await fakeServer()
  const pool = poolFor(server)
  await expect(pool.exec('wait 500 slow', { timeout: 100 })).rejects.toThrow('guestA: ssh exec timed out after 100 ms: wait 500 slow')
  expect(stdout(await pool.exec('wait 0 next'))).toBe('next\n')
  expect(server.connections).toBe(2)
})

test('connections the server dropped while idle are not used again: the next command connects anew', async () => {
  const server = await fakeServer()
  const pool = poolFor(server)
  await Promise.all([pool.exec('wait 50 one'), pool.exec('wait 50 two')])
  expect(server.connections).toBe(2)
  server.dropAll()
  // The client sees the end of its connections.
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(stdout(await pool.exec('wait 0 after'))).toBe('after\n')
  expect(server.connections).toBe(3)
})
