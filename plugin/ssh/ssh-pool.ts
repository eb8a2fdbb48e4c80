import type { Duplex } from 'node:stream'
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

  private async acquire(): Promise<SshSession> {
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
          return await Session.connect(this.guest, this.openStream, await this.credentials(), Date.now() + CONNECT_TIMEOUT_MS)
        } catch (error) {
          this.opened--
          throw error
        } finally {
          this.connecting = false
          this.wakeOne()
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve))
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

  async use<T>(work: (session: SshSession) => Promise<T>): Promise<T> {
    const session = await this.acquire()
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

  exec(command: string, options: { timeout?: number } = {}): Promise<ByteExecResult> {
    return this.use((session) => session.exec(command, options))
  }

  close(): void {
    for (const session of this.idle.splice(0)) session.close()
    this.opened = 0
  }
}
