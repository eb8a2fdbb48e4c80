import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../common/deadline.js'

// A small client for QEMU's QMP on a unix socket: greeting, capabilities, then one
// command at a time; asynchronous events are skipped.

export class QmpClient {
  private socket?: Socket
  private buffer = ''
  private pending: { resolve: (value: unknown) => void; reject: (error: Error) => void }[] = []
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly guest: string,
    private readonly path: string,
  ) {}

  async connect(deadline: number): Promise<void> {
    for (;;) {
      try {
        this.socket = await new Promise<Socket>((resolve, reject) => {
          const socket = connect(this.path)
          socket.once('connect', () => resolve(socket))
          socket.once('error', reject)
        })
        break
      } catch (error) {
        if (Date.now() > deadline) throw new TimeoutError(`${this.guest}: QMP did not answer on ${this.path}: ${(error as Error).message}`)
        await sleep(20)
      }
    }
    const greeting = new Promise<void>((resolve) => (this.onGreeting = resolve))
    this.socket.setEncoding('utf8')
    this.socket.on('data', (chunk: string) => this.receive(chunk))
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      for (const waiter of this.pending.splice(0)) waiter.reject(new Error(`${this.guest}: QMP connection closed`))
    })
    await greeting
    await this.command('qmp_capabilities')
  }

  private onGreeting?: () => void

  private receive(chunk: string): void {
    this.buffer += chunk
    let newline: number
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim()
      this.buffer = this.buffer.slice(newline + 1)
      if (!line) continue
      const message = JSON.parse(line) as { QMP?: unknown; event?: string; return?: unknown; error?: { class: string; desc: string } }
      if (message.QMP) this.onGreeting?.()
      else if (message.event) continue
      else if (message.error) this.pending.shift()?.reject(new Error(`${this.guest}: QMP error ${message.error.class}: ${message.error.desc}`))
      else if ('return' in message) this.pending.shift()?.resolve(message.return)
    }
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
