import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { ConsoleNoiseError, FRAME_TRIES, SerialConsole } from './serial-console.js'

// SerialConsole.exec against a stand-in for a guest's shell on a unix socket: it answers
// what is typed (the helper's `vq`/`vq_s` lines, the setup) with console text as the
// helper prints it, damaged where a test wants it damaged.

type Reply = (kind: 'run' | 'resend' | 'setup', nonce: string, count: number) => string

function frame(nonce: string, stdout: string, code: number, options: { lie?: boolean } = {}): string {
  const data = Buffer.from(stdout)
  const sum = createHash('md5').update(options.lie ? 'other' : data).digest('hex')
  return `\r\n${nonce}o:${data.toString('hex')}\r\n\r\n${nonce}z ${code} ${data.length} ${sum} 0 -\r\n`
}

const servers: Server[] = []
const consoles: SerialConsole[] = []
afterEach(() => {
  for (const console of consoles.splice(0)) console.close()
  for (const server of servers.splice(0)) server.close()
})

async function fakeShell(reply: Reply): Promise<{ console: SerialConsole; typed: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'vq-console-'))
  const typed: string[] = []
  const counts = { run: 0, resend: 0, setup: 0 }
  const server = createServer((socket: Socket) => {
    let pending = ''
    socket.on('data', (data) => {
      pending += data.toString()
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        typed.push(line)
        const run = /^vq (\w+) /.exec(line)
        const resend = /^vq_s (\w+)\|\|/.exec(line)
        const setup = /echo '(\w{3})''(\w+)i' v2/.exec(line)
        const answer = run
          ? reply('run', run[1]!, counts.run++)
          : resend
            ? reply('resend', resend[1]!, counts.resend++)
            : setup
              ? reply('setup', setup[1]! + setup[2]!, counts.setup++)
              : ''
        if (answer) socket.write(`guestA:~# ${answer}`)
      }
    })
  })
  servers.push(server)
  const path = join(dir, 'serial.sock')
  await new Promise<void>((resolve) => server.listen(path, resolve))
  const console = new SerialConsole('guestA', path, join(dir, 'transcript.log'))
  consoles.push(console)
  await console.attach(Date.now() + 5000)
  return { console, typed }
}

describe('SerialConsole.exec', () => {
  test('returns verified output as bytes', async () => {
    const { console } = await fakeShell((kind, nonce) => (kind === 'run' ? frame(nonce, 'ok\n', 0) : ''))
    expect(await console.exec('echo ok', 5000)).toEqual({ stdout: Buffer.from('ok\n'), stderr: Buffer.alloc(0), exitCode: 0 })
  })

  test('a frame that fails its checks is printed again under a new nonce, and then taken', async () => {
    const { console, typed } = await fakeShell((kind, nonce) => (kind === 'run' ? `daemon: noise\r\n${frame(nonce, 'data\n', 1, { lie: true })}` : kind === 'resend' ? frame(nonce, 'data\n', 1) : ''))
    expect(await console.exec('cat data', 5000)).toEqual({ stdout: Buffer.from('data\n'), stderr: Buffer.alloc(0), exitCode: 1 })
    const [run, resend] = typed.filter((line) => line.startsWith('vq'))
    expect(resend).toMatch(/^vq_s \w+\|\|/)
    expect(resend!.slice(5, 15)).not.toBe(run!.slice(3, 13))
    expect(console.slice(0)).toContain('[vitest-qemu typed] (print the output again)')
  })

  test(`after ${FRAME_TRIES} failed tries it rejects as too noisy, showing the foreign lines, and never returns the unverified output`, async () => {
    const { console } = await fakeShell((kind, nonce) => (kind === 'setup' ? '' : `[daemon] noise line\r\n${frame(nonce, 'unverified\n', 0, { lie: true })}`))
    const error = await console.exec('cat data', 5000).catch((caught: Error) => caught)
    expect(error).toBeInstanceOf(ConsoleNoiseError)
    expect((error as Error).message).toMatch(/the serial console was too noisy/)
    expect((error as Error).message).toContain('[daemon] noise line')
    expect((error as Error).message).toContain(`failed verification ${FRAME_TRIES} times`)
  })

  test('when the helper is missing (a reboot), it sets the console up and runs the command again', async () => {
    const { console, typed } = await fakeShell((kind, nonce, count) =>
      kind === 'run' ? (count === 0 ? `sh: vq: not found\r\n${nonce}m\r\n` : frame(nonce, 'again\n', 0)) : kind === 'setup' ? `${nonce}i v2\r\n` : '',
    )
    expect(await console.exec('echo again', 5000)).toEqual({ stdout: Buffer.from('again\n'), stderr: Buffer.alloc(0), exitCode: 0 })
    expect(typed.filter((line) => line.startsWith('vq '))).toHaveLength(2)
    expect(typed.some((line) => line.startsWith('stty -echo'))).toBe(true)
    expect(console.mode).toBe('v2')
  })

  test('a deferred setup is done before the first command, in one round trip, and only once', async () => {
    const { console, typed } = await fakeShell((kind, nonce) => (kind === 'run' ? frame(nonce, 'ok\n', 0) : kind === 'setup' ? `${nonce}i v2\r\n` : ''))
    console.deferSetup()
    expect(typed).toEqual([])
    expect((await console.exec('echo ok', 5000)).stdout.toString()).toBe('ok\n')
    expect((await console.exec('echo ok', 5000)).stdout.toString()).toBe('ok\n')
    expect(typed.filter((line) => line.startsWith('stty -echo'))).toHaveLength(1)
    expect(typed.filter((line) => line.startsWith('vq '))).toHaveLength(2)
    expect(typed.indexOf('')).toBeLessThan(typed.findIndex((line) => line.startsWith('stty -echo')))
    expect(console.mode).toBe('v2')
  })

  test('typed text waits for a deferred setup; setUpNow with none deferred types nothing', async () => {
    const { console, typed } = await fakeShell((kind, nonce) => (kind === 'setup' ? `${nonce}i v2\r\n` : ''))
    await console.setUpNow(5000)
    expect(typed).toEqual([])
    console.deferSetup()
    await console.type('ls\n', 5000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const setupAt = typed.findIndex((line) => line.startsWith('stty -echo'))
    expect(setupAt).toBeGreaterThanOrEqual(0)
    expect(typed.at(-1)).toBe('ls')
    expect(typed.indexOf('ls')).toBeGreaterThan(setupAt)
  })

  test('a deferred setup that no shell answers fails the command, naming the guest and the command', async () => {
    const { console } = await fakeShell(() => '')
    console.deferSetup()
    await expect(console.exec('echo ok', 300)).rejects.toThrow(/^guestA: no shell answered on the serial console before `echo ok` within 300 ms/)
  })

  test('a command that does not end times out, Ctrl-C is typed, and the next command works', async () => {
    const { console, typed } = await fakeShell((kind, nonce, count) => (kind === 'run' && count > 0 ? frame(nonce, 'next\n', 0) : ''))
    await expect(console.exec('sleep 1000', 300)).rejects.toThrow(/timed out after 300 ms/)
    expect((await console.exec('echo next', 5000)).stdout.toString()).toBe('next\n')
    expect(typed.some((line) => line.includes('\u0003'))).toBe(true)
  })

  test('the transcript file records the commands typed with echo off', async () => {
    const { console } = await fakeShell((kind, nonce) => (kind === 'run' ? frame(nonce, 'ok\n', 0) : ''))
    await console.exec('echo ok', 5000)
    console.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(readFileSync(console.transcriptPath, 'utf8')).toContain('[vitest-qemu typed] echo ok')
  })
})

describe('SerialConsole.expect', () => {
  test('an AbortSignal ends the wait', async () => {
    const { console } = await fakeShell(() => '')
    const controller = new AbortController()
    const waiting = console.expect('never', { timeout: 10_000, signal: controller.signal })
    controller.abort(new Error('aborted by the test'))
    await expect(waiting).rejects.toThrow('aborted by the test')
  })

  test('a pattern that backtracks without end fails instead of blocking, and the event loop stays free', async () => {
    const { console } = await fakeShell(() => '')
    console.expectWorkerBudgetMs = 1000
    // The stand-in prints nothing here: the text to match is the console's own record of what was typed.
    await console.exec('a'.repeat(30) + '!', 100).catch(() => {})
    // A 20 ms ticker counts how often the event loop runs: during the match, and for 400 ms
    // right after it (the rate this machine gives a free loop at the moment).
    const ticksFor = async (work: Promise<unknown>) => {
      let ticks = 0
      const ticker = setInterval(() => ticks++, 20)
      const started = Date.now()
      await work
      clearInterval(ticker)
      return { ticks, ms: Date.now() - started }
    }
    const matching = console.expect(/(a+)+$/, { from: 0, timeout: 20_000 })
    // Had the match run on this thread, the expect would have ended before any timer.
    const first = await Promise.race([matching.then(() => 'matched', () => 'ended'), new Promise((resolve) => setTimeout(() => resolve('timer'), 20))])
    expect(first).toBe('timer')
    const during = await ticksFor(matching.catch(() => {}))
    const free = await ticksFor(new Promise((resolve) => setTimeout(resolve, 400)))
    // The event loop kept running while the worker matched (about 1 s): at least a quarter of
    // the free loop's rate (against the free loop, not 1 per 20 ms: under load timers run late).
    expect(during.ticks / during.ms).toBeGreaterThan(free.ticks / free.ms / 4)
    await expect(matching).rejects.toThrow(/backtracks too much/)
  })
})
