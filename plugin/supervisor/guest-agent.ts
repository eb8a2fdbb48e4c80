import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { connectWithRetry } from '../common/connect-retry.js'
import { TimeoutError } from '../common/deadline.js'
import type { ByteExecResult } from '../protocol/exec-result.js'
import { type AgentMessage, AgentFrameReader, agentRequest } from './agent-framing.js'

// The guest agent's private channel, owned by the supervisor like the serial console:
// commands one at a time, whoever asks. It is "up" once the agent answers a ping, which
// also works for a guest restored from a snapshot (its agent answered long ago). A
// command past its timeout is ended in the guest through the control port, and the
// channel waits for its frame, so the next command starts in step.

/** How long an agent may take to answer its first ping before callers are told it is not there. */
const FIRST_PING_MS = 15_000
/** How long a command that was ended may take to report, before the channel is given up. */
const KILL_GRACE_MS = 5_000

export class AgentUnavailableError extends Error {
  readonly code = 'agent-unavailable'
  constructor(message: string) {
    super(message)
    this.name = 'AgentUnavailableError'
  }
}

export class GuestAgent {
  /** Aborted by close(): an attach still retrying then stops, and keeps no connection it makes after. */
  private readonly closing = new AbortController()
  private commands?: Socket
  private control?: Socket
  private readonly waiting = new Map<string, (message: AgentMessage) => void>()
  private queue: Promise<unknown> = Promise.resolve()
  private up?: Promise<void>
  private broken?: string
  private closed = false

  constructor(
    readonly guest: string,
    private readonly sockets: { commandSocket: string; controlSocket: string },
  ) {}

  /** Connects to QEMU's two agent sockets, retrying while QEMU has not made them yet. */
  async attach(deadline: number): Promise<void> {
    this.commands = await connectWithRetry(this.sockets.commandSocket, { deadline, what: `${this.guest}: the agent's socket ${this.sockets.commandSocket}`, signal: this.closing.signal })
    this.control = await connectWithRetry(this.sockets.controlSocket, { deadline, what: `${this.guest}: the agent's control socket ${this.sockets.controlSocket}`, signal: this.closing.signal })
    const reader = new AgentFrameReader((message) => this.waiting.get(message.id)?.(message))
    this.commands.on('data', (chunk: Buffer) => reader.push(chunk))
    for (const socket of [this.commands, this.control]) {
      socket.on('error', () => {})
      socket.on('close', () => this.fail('the agent channel closed (QEMU exited?)'))
    }
  }

  private fail(reason: string): void {
    this.broken ??= reason
    for (const wake of [...this.waiting.values()]) wake({ type: 'pong', id: '' })
  }

  private await(id: string, ms: number): Promise<AgentMessage | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), ms)
      const finish = (message: AgentMessage | undefined) => {
        clearTimeout(timer)
        this.waiting.delete(id)
        resolve(message)
      }
      this.waiting.set(id, (message) => finish(this.broken ? undefined : message))
    })
  }

  /** Resolves once the agent answers; pings every half second until then. */
  private whenUp(): Promise<void> {
    this.up ??= (async () => {
      const deadline = Date.now() + FIRST_PING_MS
      while (Date.now() < deadline && !this.broken) {
        const id = newId()
        const answer = this.await(id, 500)
        this.commands?.write(`P ${id}\n`)
        if (await answer) return
      }
      this.broken ??= `the agent did not answer within ${FIRST_PING_MS / 1000} s`
    })()
    return this.up
  }

  /** Whether the agent has answered (false while it is not known yet, or is gone). */
  get available(): boolean {
    return !this.broken && !this.closed && this.commands !== undefined
  }

  exec(command: string, timeout: number): Promise<ByteExecResult> {
    const run = async (): Promise<ByteExecResult> => {
      const deadline = Date.now() + timeout
      if (!this.commands) throw new AgentUnavailableError(`${this.guest}: this guest has no agent`)
      await this.whenUp()
      if (this.broken) throw new AgentUnavailableError(`${this.guest}: the agent is not available: ${this.broken}`)
      const id = newId()
      const answer = this.await(id, Math.max(0, deadline - Date.now()))
      this.commands.write(agentRequest(id, command))
      const message = await answer
      if (message?.type === 'result') return { stdout: message.stdout, stderr: message.stderr, exitCode: message.exitCode }
      if (this.broken) throw new AgentUnavailableError(`${this.guest}: ${this.broken}`)
      // Past its timeout: ended in the guest; the next command waits for its frame.
      const ended = this.await(id, KILL_GRACE_MS)
      this.control?.write(`K ${id}\n`)
      if (!(await ended)) this.fail(`a command that was ended at its timeout did not report within ${KILL_GRACE_MS / 1000} s`)
      throw new TimeoutError(`${this.guest}: command timed out after ${timeout} ms (agent): ${command}`)
    }
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  close(): void {
    this.closing.abort(new Error('closed'))
    this.closed = true
    this.commands?.destroy()
    this.control?.destroy()
  }
}

function newId(): string {
  return randomBytes(8).toString('hex')
}
