import type { Socket } from 'node:net'
import { connectWithRetry } from '../common/connect-retry.js'
import { TimeoutError } from '../common/deadline.js'
import { readJsonLines } from '../protocol/json-lines.js'

// A small client for QEMU's QMP on a unix socket: greeting, capabilities, then one
// command at a time; asynchronous events are skipped.

/** How long QEMU may take to answer a command (they answer at once; migrations run in the background). */
const QMP_ANSWER_MS = 20_000

interface QmpMessage {
  QMP?: unknown
  event?: string
  return?: unknown
  error?: { class: string; desc: string }
}

export class QmpClient {
  /** Aborted by close(): an attach still retrying then stops, and keeps no connection it makes after. */
  private readonly closing = new AbortController()
  private socket?: Socket
  /** In QEMU's answering order; a command past its deadline keeps its place, so its late answer is not taken for the next one's. */
  private pending: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = []
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly guest: string,
    private readonly path: string,
  ) {}

  async connect(deadline: number): Promise<void> {
    this.socket = await connectWithRetry(this.path, { deadline, what: `${this.guest}: QMP did not answer on ${this.path}`, signal: this.closing.signal })
    const greeting = new Promise<void>((resolve) => (this.onGreeting = resolve))
    readJsonLines<QmpMessage>(this.socket, (message) => this.receive(message))
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      for (const waiter of this.pending.splice(0)) waiter.reject(new Error(`${this.guest}: QMP connection closed`))
    })
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${this.guest}: QMP on ${this.path} sent no greeting`)), Math.max(0, deadline - Date.now()))
    })
    await Promise.race([greeting, late]).finally(() => clearTimeout(timer))
    await this.command('qmp_capabilities')
  }

  private onGreeting?: () => void

  private receive(message: QmpMessage): void {
    if (message.QMP) this.onGreeting?.()
    else if (message.event) return
    else if (message.error) this.pending.shift()?.reject(new Error(`${this.guest}: QMP error ${message.error.class}: ${message.error.desc}`))
    else if ('return' in message) this.pending.shift()?.resolve(message.return)
  }

  /** Sends one command; rejects when QEMU has not answered within `timeoutMs` (a stopped or hung QEMU). */
  command(name: string, args?: Record<string, unknown>, timeoutMs = QMP_ANSWER_MS): Promise<unknown> {
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        if (!this.socket || this.socket.destroyed) return reject(new Error(`${this.guest}: QMP is not connected`))
        let settled = false
        const settle = (finish: () => void) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          finish()
        }
        const timer = setTimeout(() => settle(() => reject(new TimeoutError(`${this.guest}: QMP ${name} got no answer within ${timeoutMs} ms (QEMU stopped or hung)`))), timeoutMs)
        this.pending.push({ resolve: (value) => settle(() => resolve(value)), reject: (error) => settle(() => reject(error)) })
        this.socket.write(`${JSON.stringify(args ? { execute: name, arguments: args } : { execute: name })}\n`)
      })
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  close(): void {
    this.closing.abort(new Error('closed'))
    this.socket?.destroy()
  }
}
