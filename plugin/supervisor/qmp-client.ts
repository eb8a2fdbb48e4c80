import type { Socket } from 'node:net'
import { connectWithRetry } from '../common/connect-retry.js'
import { readJsonLines } from '../protocol/json-lines.js'

// A small client for QEMU's QMP on a unix socket: greeting, capabilities, then one
// command at a time; asynchronous events are skipped.

interface QmpMessage {
  QMP?: unknown
  event?: string
  return?: unknown
  error?: { class: string; desc: string }
}

export class QmpClient {
  private socket?: Socket
  private pending: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = []
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly guest: string,
    private readonly path: string,
  ) {}

  async connect(deadline: number): Promise<void> {
    this.socket = await connectWithRetry(this.path, { deadline, what: `${this.guest}: QMP did not answer on ${this.path}` })
    const greeting = new Promise<void>((resolve) => (this.onGreeting = resolve))
    readJsonLines<QmpMessage>(this.socket, (message) => this.receive(message))
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      for (const waiter of this.pending.splice(0)) waiter.reject(new Error(`${this.guest}: QMP connection closed`))
    })
    await greeting
    await this.command('qmp_capabilities')
  }

  private onGreeting?: () => void

  private receive(message: QmpMessage): void {
    if (message.QMP) this.onGreeting?.()
    else if (message.event) return
    else if (message.error) this.pending.shift()?.reject(new Error(`${this.guest}: QMP error ${message.error.class}: ${message.error.desc}`))
    else if ('return' in message) this.pending.shift()?.resolve(message.return)
  }

  command(name: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        if (!this.socket || this.socket.destroyed) return reject(new Error(`${this.guest}: QMP is not connected`))
        this.pending.push({ resolve, reject })
        this.socket.write(`${JSON.stringify(args ? { execute: name, arguments: args } : { execute: name })}\n`)
      })
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  close(): void {
    this.socket?.destroy()
  }
}
