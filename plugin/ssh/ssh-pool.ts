import type { Duplex } from 'node:stream'
import { TimeoutError } from '../common/deadline.js'
import type { ByteExecResult } from '../protocol/exec-result.js'
import type { SshCredentials, SshSession } from './ssh-session.js'

// Several SSH connections to one guest, each running one command at a time: concurrent
// commands get a connection of their own (up to a limit), later ones wait for a free one.

const MAX_CONNECTIONS = 4
const CONNECT_TIMEOUT_MS = 30_000

export class SshPool {
  private readonly idle: SshSession[] = []
  private opened = 0
  private connecting = false
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly guest: string,
    private readonly openStream: () => Promise<Duplex>,
    private readonly credentials: () => Promise<SshCredentials>,
  ) {}

  /** A connection of its own, by `deadline`: waiting for a free one and connecting count against it. */
  private async acquire(deadline = Date.now() + CONNECT_TIMEOUT_MS): Promise<SshSession> {
    for (;;) {
      const idle = this.idle.pop()
      if (idle?.connected) return idle
      // Closed while idle (the guest was reset, or stopped): a new connection replaces it.
      if (idle) {
        idle.close()
        this.opened--
        continue
      }
      // One handshake at a time: SSH servers refuse many unauthenticated connections from one address.
      if (this.opened < MAX_CONNECTIONS && !this.connecting) {
        this.opened++
        this.connecting = true
        try {
          // Loaded on first use: a test that never uses SSH never pays ssh2's load time.
          const { SshSession: Session } = await import('./ssh-session.js')
          return await Session.connect(this.guest, this.openStream, await this.credentials(), Math.min(deadline, Date.now() + CONNECT_TIMEOUT_MS))
        } catch (error) {
          this.opened--
          throw error
        } finally {
          this.connecting = false
          this.wakeOne()
        }
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(wake) >>> 0, 1)
          reject(new TimeoutError(`${this.guest}: no SSH connection became free before the deadline`))
        }, Math.max(0, deadline - Date.now()))
        this.waiting.push(wake)
      })
    }
  }

  private wakeOne(): void {
    this.waiting.shift()?.()
  }

  private release(session: SshSession, broken: boolean): void {
    if (broken) {
      session.close()
      this.opened--
    } else {
      this.idle.push(session)
    }
    this.wakeOne()
  }

  async use<T>(work: (session: SshSession) => Promise<T>, deadline?: number): Promise<T> {
    const session = await this.acquire(deadline)
    let broken = false
    try {
      return await work(session)
    } catch (error) {
      broken = !session.connected
      throw error
    } finally {
      this.release(session, broken)
    }
  }

  /** Runs a command; `timeout` covers the whole call: waiting for a connection, connecting, the command. */
  async exec(command: string, options: { timeout?: number } = {}): Promise<ByteExecResult> {
    if (options.timeout === undefined) return this.use((session) => session.exec(command, options))
    const deadline = Date.now() + options.timeout
    try {
      return await this.use((session) => session.exec(command, { timeout: Math.max(1, deadline - Date.now()) }), deadline)
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error
      // Named with the caller's timeout, and where the time went when the command never started.
      const before = error.message.includes('ssh exec timed out') ? '' : ` before the command started (${error.message})`
      throw new TimeoutError(`${this.guest}: ssh exec timed out after ${options.timeout} ms${before}: ${command}`)
    }
  }

  close(): void {
    for (const session of this.idle.splice(0)) session.close()
    this.opened = 0
  }
}
