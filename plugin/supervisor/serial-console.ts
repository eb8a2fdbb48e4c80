import { createWriteStream, type WriteStream } from 'node:fs'
import type { Socket } from 'node:net'
import { StringDecoder } from 'node:string_decoder'
import { type FrameEncoding, type FramedResult, frameCommand, parseFrame } from './console-framing.js'
import { connectWithRetry } from '../common/connect-retry.js'
import { TimeoutError } from '../common/deadline.js'
import { escapeRegExp } from '../common/regex-escape.js'

// The one owner of a guest's serial console. Every byte from boot to teardown goes to
// the transcript file and to an in-memory buffer addressed by position; `expect` waits
// for a pattern after a position and never re-matches older output; `exec` runs
// framed commands one at a time, whoever asks.

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

export class SerialConsole {
  private text = ''
  private socket?: Socket
  private readonly decoder = new StringDecoder('utf8')
  private readonly transcript: WriteStream
  private readonly waiters = new Set<() => void>()
  private readonly listeners = new Set<(chunk: string) => void>()
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  /** How framed output travels: raw until the shell is known to have base64. */
  encoding: FrameEncoding = 'raw'
  /** Called with each chunk of console text (after it is stored). */
  onText?: (chunk: string) => void

  constructor(
    readonly guest: string,
    private readonly socketPath: string,
    readonly transcriptPath: string,
  ) {
    this.transcript = createWriteStream(transcriptPath, { flags: 'a' })
  }

  /** Connects to QEMU's serial socket, retrying while QEMU has not created it yet. */
  async attach(deadline: number): Promise<void> {
    this.socket = await connectWithRetry(this.socketPath, { deadline, what: `${this.guest}: could not connect to the serial console socket ${this.socketPath}` })
    this.socket.on('data', (data: Buffer) => {
      this.transcript.write(data)
      const chunk = this.decoder.write(data)
      this.text += chunk
      this.onText?.(chunk)
      for (const listener of this.listeners) listener(chunk)
      for (const wake of [...this.waiters]) wake()
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closed = true
      for (const wake of [...this.waiters]) wake()
    })
  }

  get position(): number {
    return this.text.length
  }

  slice(from: number, to?: number): string {
    return this.text.slice(from, to)
  }

  tail(lines: number): string {
    return this.text.replace(/\r/g, '').split('\n').slice(-lines).join('\n')
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

  /** Waits until `pattern` appears at or after `from`. */
  async expect(pattern: RegExp | string, options: ExpectOptions): Promise<ExpectMatch> {
    const from = options.from ?? this.position
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern
    return this.waitFor(() => {
      const rest = this.text.slice(from)
      const found = regex.exec(rest)
      return found ? { match: found[0], index: from + found.index, end: from + found.index + found[0].length } : undefined
    }, options.timeout, options.signal, () => `${this.guest}: timed out after ${options.timeout} ms waiting for ${String(regex)} on the serial console`)
  }

  /** Runs one framed command; commands from several callers run one after another. */
  exec(command: string, timeout: number): Promise<FramedResult> {
    const run = async () => {
      const frame = frameCommand(command, this.encoding)
      const from = this.position
      this.send(frame.line)
      try {
        return await this.waitFor(() => parseFrame(this.text.slice(from), frame)?.result, timeout, undefined, () =>
          `${this.guest}: serial exec timed out after ${timeout} ms: ${command}`)
      } catch (error) {
        // Leave the shell ready for the next command: interrupt whatever still runs.
        if (!this.closed) this.send('\u0003\n')
        throw error
      }
    }
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
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
      timer = setTimeout(() => finish(new TimeoutError(describe())), timeout)
      signal?.addEventListener('abort', onAbort)
      this.waiters.add(check)
      check()
    })
  }

  close(): void {
    this.socket?.destroy()
    this.transcript.end()
  }
}
