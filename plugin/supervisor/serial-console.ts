import { createWriteStream, type WriteStream } from 'node:fs'
import type { Socket } from 'node:net'
import { StringDecoder } from 'node:string_decoder'
import vm from 'node:vm'
import { Worker } from 'node:worker_threads'
import {
  FrameParser,
  type FrameOutcome,
  SETUP_PATTERN,
  frameRawCommand,
  newNonce,
  parseRawFrame,
  resendCommand,
  setupText,
  typedCommand,
} from './console-framing.js'
import { ConsoleBuffer } from './console-buffer.js'
import { connectWithRetry } from '../common/connect-retry.js'
import { TimeoutError } from '../common/deadline.js'
import { escapeRegExp } from '../common/regex-escape.js'
import type { ByteExecResult } from '../protocol/exec-result.js'

// The one owner of a guest's serial console. Every byte from boot to teardown goes to
// the transcript file; the last MEMORY_LIMIT characters stay in memory, addressed by
// absolute positions; `expect` waits for a pattern after a position and never re-matches
// older output; `exec` runs framed commands one at a time, whoever asks.

export interface ExpectOptions {
  from?: number
  timeout: number
  signal?: AbortSignal
}

export interface ExpectMatch {
  match: string
  index: number
  end: number
}

/** How much console text stays in memory (characters); older text is on disk only. */
export const MEMORY_LIMIT = 4 * 1024 * 1024
/** `expect` matches within the last this many characters (after `from`). */
export const EXPECT_WINDOW = 64 * 1024
/** Longest one match attempt may run on the supervisor's event loop. */
export const EXPECT_MATCH_BUDGET_MS = 200
/** Longest one match attempt may run in a worker thread. */
export const EXPECT_WORKER_BUDGET_MS = 5000

const MATCHER = `const { parentPort, workerData } = require('node:worker_threads')
const found = new RegExp(workerData.source, workerData.flags).exec(workerData.text)
parentPort.postMessage(found ? { index: found.index, match: found[0] } : null)`

/** Runs `regex` on `text` in a worker thread; rejects when it takes longer than `budget` ms. */
function matchInWorker(regex: RegExp, text: string, budget: number): Promise<{ index: number; match: string } | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(MATCHER, { eval: true, workerData: { source: regex.source, flags: regex.flags, text } })
    const timer = setTimeout(() => {
      void worker.terminate()
      reject(new Error('too slow'))
    }, budget)
    worker.once('message', (found: { index: number; match: string } | null) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve(found)
    })
    worker.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}
/** How often a frame that fails verification is printed again before exec gives up. */
export const FRAME_TRIES = 4
/** How long one try of a shell's setup waits for its answer before Enter and the setup are typed again. */
const PROBE_TRY_MS = 3000
/** How long the console stays quiet after a damaged line of a frame before the frame is asked for again. */
export const FRAME_STALL_MS = 1000

/** Exec's error when output failed verification on every try. */
export class ConsoleNoiseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConsoleNoiseError'
  }
}

type Mode = 'unknown' | 'deferred' | 'v2' | 'raw'

export class SerialConsole {
  /** Aborted by close(): an attach still retrying then stops, and keeps no connection it makes after. */
  private readonly closing = new AbortController()
  private readonly text = new ConsoleBuffer(MEMORY_LIMIT)
  private socket?: Socket
  private readonly decoder = new StringDecoder('utf8')
  private readonly transcript: WriteStream
  private readonly waiters = new Set<() => void>()
  private readonly listeners = new Set<(chunk: string) => void>()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  /**
   * Whether the helper is set up in the shell: 'unknown' until the first exec finds out;
   * 'deferred' for a freshly booted shell, set up before its first use (deferSetup).
   */
  mode: Mode = 'unknown'
  /** Called with each chunk of console text (after it is stored). */
  onText?: (chunk: string) => void
  /** How long one try of an `expect` pattern may run in its worker thread. */
  expectWorkerBudgetMs = EXPECT_WORKER_BUDGET_MS

  constructor(
    readonly guest: string,
    private readonly socketPath: string,
    readonly transcriptPath: string,
  ) {
    this.transcript = createWriteStream(transcriptPath, { flags: 'a' })
  }

  /** Connects to QEMU's serial socket, retrying while QEMU has not created it yet. */
  async attach(deadline: number): Promise<void> {
    this.socket = await connectWithRetry(this.socketPath, { deadline, what: `${this.guest}: could not connect to the serial console socket ${this.socketPath}`, signal: this.closing.signal })
    this.socket.on('data', (data: Buffer) => {
      this.transcript.write(data)
      const chunk = this.decoder.write(data)
      this.text.append(chunk)
      this.onText?.(chunk)
      for (const listener of this.listeners) listener(chunk)
      this.wake()
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closed = true
      for (const wake of [...this.waiters]) wake()
    })
  }

  get position(): number {
    return this.text.end
  }

  /** Console text between two positions; text older than the memory limit is no longer there (read the transcript file). */
  slice(from: number, to?: number): string {
    return this.text.slice(from, to)
  }

  tail(lines: number): string {
    return this.text.slice(this.position - 64 * 1024).replace(/\r/g, '').split('\n').slice(-lines).join('\n')
  }

  /** Calls `listener` with each new chunk of console text, until the returned function is called. */
  subscribe(listener: (chunk: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  send(text: string | Buffer): void {
    if (!this.socket || this.closed) throw new Error(`${this.guest}: the serial console is not connected`)
    this.socket.write(text)
  }

  /** Notes in the transcript a command the lab ran in the guest another way, as `[vitest-qemu through the agent] COMMAND`. */
  noteCommand(command: string, channel: string): void {
    this.record(command, `through the ${channel}`)
  }

  /**
   * Notes what is typed with echo off, where the echo would have been: in the transcript
   * file and in the console text (positions count it), as `[vitest-qemu typed] COMMAND`.
   */
  private record(what: string, how = 'typed'): void {
    const text = `\r\n[vitest-qemu ${how}] ${what.replace(/\r?\n/g, '\r\n    ')}\r\n`
    this.transcript.write(text)
    this.text.append(text)
    for (const listener of this.listeners) listener(text)
  }

  /**
   * Waits until `pattern` appears at or after `from`. The pattern is tried on at most the
   * last EXPECT_WINDOW characters, on the event loop for EXPECT_MATCH_BUDGET_MS at most; a
   * try that takes longer goes on in a worker thread, where a pattern that backtracks
   * without end fails after EXPECT_WORKER_BUDGET_MS instead of stalling every console.
   */
  async expect(pattern: RegExp | string, options: ExpectOptions): Promise<ExpectMatch> {
    const from = options.from ?? this.position
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''))
    const context = vm.createContext({ regex, text: '' })
    const script = new vm.Script('regex.exec(text)')
    let tried = -1
    let inWorker = false
    let workerBusy = false
    let workerOutcome: { found?: ExpectMatch; error?: Error } | undefined
    return this.waitFor(() => {
      if (workerOutcome?.error) throw workerOutcome.error
      if (workerOutcome?.found) return workerOutcome.found
      if (workerBusy || tried === this.position) return undefined
      tried = this.position
      const start = Math.max(from, this.text.start, this.position - EXPECT_WINDOW)
      const text = this.slice(start)
      if (!inWorker) {
        context.text = text
        try {
          const found = script.runInContext(context, { timeout: EXPECT_MATCH_BUDGET_MS }) as RegExpExecArray | null
          return found ? { match: found[0], index: start + found.index, end: start + found.index + found[0].length } : undefined
        } catch (error) {
          if ((error as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error
          // Slow, or this process was not given the CPU for a while (busy machines): from now on in a worker.
          inWorker = true
        } finally {
          context.text = ''
        }
      }
      workerBusy = true
      const budget = this.expectWorkerBudgetMs
      matchInWorker(regex, text, budget).then(
        (found) => {
          workerBusy = false
          // No match: tried again once more text has arrived (`tried` holds the position this try saw).
          if (found) workerOutcome = { found: { match: found.match, index: start + found.index, end: start + found.index + found.match.length } }
          this.wake()
        },
        () => {
          workerOutcome = {
            error: new Error(`${this.guest}: the pattern ${String(regex)} did not finish matching ${text.length} characters of console text within ${budget} ms (it backtracks too much); make it simpler`),
          }
          this.wake()
        },
      )
      return undefined
    }, options.timeout, options.signal, () => `${this.guest}: timed out after ${options.timeout} ms waiting for ${String(regex)} on the serial console`)
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake()
  }

  /** Runs one framed command; commands from several callers run one after another. */
  exec(command: string, timeout: number): Promise<ByteExecResult> {
    return this.serialized(async () => {
      const deadline = Date.now() + timeout
      const describe = () => `${this.guest}: serial exec timed out after ${timeout} ms: ${command}`
      await this.setUpIfDeferred(deadline).catch((error: Error) =>
        Promise.reject(error instanceof TimeoutError ? new TimeoutError(`${this.guest}: ${error.message} before \`${command}\` within ${timeout} ms`) : error),
      )
      // A console not set up yet tries the helper at once: a shell without it answers `missing`.
      if (this.mode === 'raw') return this.execRaw(command, deadline, describe)
      return this.execFramed(command, deadline, describe)
    })
  }

  /**
   * A shell that has just started answers the setup; until it does, Enter and the setup are
   * typed again every few seconds (it may not read its input yet). `stop` ends the probing
   * quietly, `failed` with its reason.
   */
  probe(deadline: number, signals: { stop?: AbortSignal; failed?: AbortSignal } = {}): Promise<void> {
    return this.serialized(() => this.probeWithin(deadline, signals))
  }

  /**
   * The default image's shell is set up when first used (a command, typed text, a saved
   * state), not at boot: typed over the serial port of a guest under TCG, the setup costs a
   * fifth of a second, and most tests use the agent only.
   */
  deferSetup(): void {
    this.mode = 'deferred'
  }

  /** Sets a deferred setup up now (before the guest's state is saved; before text is typed). */
  async setUpNow(timeout: number): Promise<void> {
    if (this.mode === 'deferred') await this.serialized(() => this.setUpIfDeferred(Date.now() + timeout))
  }

  private async setUpIfDeferred(deadline: number): Promise<void> {
    if (this.mode === 'deferred') await this.probeWithin(deadline)
  }

  /** Types text as is, into a shell that is set up (echo off) like the one framed commands see. */
  async type(text: string | Buffer, setupTimeout: number): Promise<void> {
    await this.setUpNow(setupTimeout)
    this.send(text)
  }

  private async probeWithin(deadline: number, signals: { stop?: AbortSignal; failed?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      if (signals.stop?.aborted) return
      const left = deadline - Date.now()
      if (left <= 0) throw new TimeoutError('no shell answered on the serial console')
      this.send('\n')
      const tryMs = Math.min(left, PROBE_TRY_MS)
      try {
        await this.setupWithin(Date.now() + tryMs, () => `${this.guest}: no shell answered the console setup within ${tryMs} ms`)
        return
      } catch (error) {
        if (signals.failed?.aborted) throw signals.failed.reason
        if (this.closed) throw error
      }
    }
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  private async setupWithin(deadline: number, describe: () => string): Promise<Mode> {
    const nonce = newNonce()
    this.record('(console setup: echo off, the vq helper)')
    const from = this.position
    this.send(setupText(nonce))
    const pattern = SETUP_PATTERN(nonce)
    const found = await this.waitFor(() => pattern.exec(this.slice(from)) ?? undefined, deadline - Date.now(), undefined, describe)
    this.mode = found[1] === 'v2' ? 'v2' : 'raw'
    return this.mode
  }

  private async execFramed(command: string, deadline: number, describe: () => string): Promise<ByteExecResult> {
    let reinstalled = false
    const failures: string[] = []
    let typed = (nonce: string) => typedCommand(command, nonce)
    for (let attempt = 0; ; ) {
      const nonce = newNonce()
      const outcome = await this.runFrame(nonce, typed(nonce), attempt === 0 ? command : '(print the output again)', deadline, describe)
      if (outcome.kind === 'ok') return outcome.result
      if (outcome.kind === 'missing') {
        if (reinstalled) throw new Error(`${this.guest}: the console's command helper could not be set up`)
        reinstalled = true
        await this.setupWithin(deadline, describe)
        if (this.mode === 'raw') return this.execRaw(command, deadline, describe)
        continue
      }
      attempt++
      failures.push(`try ${attempt}: ${outcome.reason}\n${outcome.lines.map((line) => `    | ${JSON.stringify(line).slice(1, -1)}`).join('\n')}`)
      if (attempt >= FRAME_TRIES) {
        throw new ConsoleNoiseError(
          `${this.guest}: the serial console was too noisy: the output of \`${command}\` failed verification ${attempt} times; ` +
            `lines on the console that were not the command's:\n${failures.join('\n')}`,
        )
      }
      typed = resendCommand
    }
  }

  /** Types a frame's text and reads the console until its outcome; on timeout, interrupts the guest's command. */
  private async runFrame(nonce: string, text: string, record: string, deadline: number, describe: () => string): Promise<FrameOutcome> {
    this.record(record)
    const parser = new FrameParser(nonce)
    let outcome: FrameOutcome | undefined
    const unsubscribe = this.subscribe((chunk) => {
      outcome ??= parser.push(chunk)
    })
    // A line of this frame arrived damaged and no more of it came: its end line was lost too.
    let seen = 0
    let progressAt = Date.now()
    const stall = setInterval(() => {
      if (parser.linesWithNonce !== seen) {
        seen = parser.linesWithNonce
        progressAt = Date.now()
      }
      if (outcome || !parser.damaged || Date.now() - progressAt < FRAME_STALL_MS) return
      outcome = { kind: 'bad', reason: `the frame's end line did not arrive intact within ${FRAME_STALL_MS} ms`, lines: parser.offending() }
      this.wake()
    }, FRAME_STALL_MS / 4)
    try {
      this.send(text)
      return await this.waitFor(() => outcome, deadline - Date.now(), undefined, describe)
    } catch (error) {
      // Leave the shell ready for the next command: interrupt whatever still runs.
      if (!this.closed) this.send('\u0003\n')
      throw error
    } finally {
      clearInterval(stall)
      unsubscribe()
    }
  }

  private async execRaw(command: string, deadline: number, describe: () => string): Promise<ByteExecResult> {
    const frame = frameRawCommand(command)
    this.record(command)
    const from = this.position
    this.send(frame.line)
    try {
      const result = await this.waitFor(() => parseRawFrame(this.slice(from), frame)?.result, deadline - Date.now(), undefined, describe)
      return { stdout: Buffer.from(result.stdout), stderr: Buffer.from(result.stderr), exitCode: result.exitCode }
    } catch (error) {
      if (!this.closed) this.send('\u0003\n')
      throw error
    }
  }

  private waitFor<T>(probe: () => T | undefined, timeout: number, signal: AbortSignal | undefined, describe: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const finish = (error?: Error, value?: T) => {
        this.waiters.delete(check)
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error)
        else resolve(value as T)
      }
      const check = () => {
        let value: T | undefined
        try {
          value = probe()
        } catch (error) {
          return finish(error as Error)
        }
        if (value !== undefined) return finish(undefined, value)
        if (this.closed) finish(new Error(`${this.guest}: the serial console closed (QEMU exited?) while waiting; ${describe()}`))
      }
      const onAbort = () => finish(signal?.reason instanceof Error ? signal.reason : new Error(`${this.guest}: aborted`))
      if (signal?.aborted) return onAbort()
      timer = setTimeout(() => finish(new TimeoutError(describe())), Math.max(0, timeout))
      signal?.addEventListener('abort', onAbort)
      this.waiters.add(check)
      check()
    })
  }

  close(): void {
    this.closing.abort(new Error('closed'))
    this.socket?.destroy()
    this.transcript.end()
  }
}
