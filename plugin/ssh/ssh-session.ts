import { createReadStream, createWriteStream } from 'node:fs'
import type { Duplex } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2'
import { TimeoutError } from '../common/deadline.js'
import { shellQuote } from '../common/shell-quote.js'
import type { ByteExecResult } from '../protocol/exec-result.js'

// An SSH connection to a guest (ssh2): stdout, stderr and exit code kept apart, any
// number of commands at once, files in and out. Reaches the guest over any stream,
// so processes outside the lab's namespace connect through its forwarding socket.

/** Longest command sent as the exec request itself; longer ones go through LONG_COMMAND_RUNNER. */
const MAX_COMMAND_BYTES = 8000
const LONG_COMMAND_RUNNER = `f=$(mktemp) && cat > "$f" && { sh "$f" </dev/null; r=$?; rm -f "$f"; exit $r; }`

export interface SshCredentials {
  user: string
  password?: string
  privateKey?: string
}


/** Refusals of the credentials in a row that end the attempts to connect. */
const AUTH_REFUSALS = 3

// One command at a time per connection: dropbear 2022.83 (Debian 12) aborts a connection
// that carries several busy channels ("Failed assertion `!channel->sent_close'"), so
// concurrency comes from several connections (SshPool), each used by one command at a time.
export class SshSession {
  /** False once the connection has ended. */
  connected = true

  private constructor(
    readonly guest: string,
    private readonly client: ssh2.Client,
  ) {}

  /**
   * Connects, retrying until the deadline: an SSH server is ready when a handshake and
   * authentication complete, not when its port merely accepts.
   */
  static async connect(guest: string, openStream: () => Promise<Duplex>, credentials: SshCredentials, deadline: number): Promise<SshSession> {
    let lastError: Error | undefined
    let refusals = 0
    for (;;) {
      const left = deadline - Date.now()
      if (left <= 0) throw new TimeoutError(`${guest}: no SSH handshake before the deadline: ${lastError?.message ?? 'no attempt finished'}`)
      try {
        const sock = await openStream()
        const client = new ssh2.Client()
        // ssh2 may report a failed attempt more than once; every report after the first is dropped here.
        client.on('error', () => {})
        await new Promise<void>((resolve, reject) => {
          client.once('ready', resolve)
          client.once('error', (error) => {
            client.end()
            sock.destroy()
            reject(error)
          })
          client.once('close', () => reject(new Error('connection closed during the handshake')))
          const config: ConnectConfig = {
            sock,
            username: credentials.user,
            password: credentials.password,
            privateKey: credentials.privateKey,
            readyTimeout: Math.max(1000, Math.min(left, 20_000)),
            hostVerifier: () => true,
            keepaliveInterval: 0,
          }
          client.connect(config)
        })
        const session = new SshSession(guest, client)
        client.on('close', () => (session.connected = false))
        return session
      } catch (error) {
        lastError = error as Error
        // The guest is gone for good (its QEMU exited): no retry can reach it.
        if ((error as { code?: string }).code === 'guest-exited') throw error
        // The server answered and refused the credentials: trying until the deadline would
        // only hide why (a server still starting fails the handshake, not authentication).
        if ((error as { level?: string }).level === 'client-authentication') {
          if (++refusals >= AUTH_REFUSALS) {
            const method = [credentials.password !== undefined && 'password', credentials.privateKey && 'key'].filter(Boolean).join(' or ') || 'no password or key'
            throw new Error(`${guest}: SSH refused the login as '${credentials.user}' (${method}), ${refusals} times: ${lastError.message}`)
          }
        } else refusals = 0
        await sleep(250)
      }
    }
  }

  exec(command: string, options: { timeout?: number; stdin?: string | Buffer } = {}): Promise<ByteExecResult> {
    // SSH servers limit a command's length (dropbear: 9000 bytes): a longer one travels on
    // stdin to a shell that runs it from a file, with its own stdin empty as usual.
    if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
      if (options.stdin !== undefined) return Promise.reject(new Error(`${this.guest}: a command over ${MAX_COMMAND_BYTES} bytes cannot also be given stdin`))
      return this.exec(LONG_COMMAND_RUNNER, { ...options, stdin: command })
    }
    return new Promise((resolve, reject) => {
      let stream: ClientChannel | undefined
      // From the request on, not from the channel's opening: a guest whose link is down never opens one.
      const timer = options.timeout
        ? setTimeout(() => {
            // The command may run on, or the channel request be unanswered (a link down):
            // this connection is of no further use; the pool opens another.
            stream?.close()
            this.connected = false
            this.client.end()
            reject(new TimeoutError(`${this.guest}: ssh exec timed out after ${options.timeout} ms: ${command}`))
          }, options.timeout)
        : undefined
      this.client.exec(command, (error, opened) => {
        if (error) {
          clearTimeout(timer)
          return reject(new Error(`${this.guest}: ssh exec failed to start: ${error.message}`))
        }
        stream = opened
        const stdout: Buffer[] = []
        const stderr: Buffer[] = []
        let exitCode: number | undefined
        let signal: string | undefined
        stream.on('data', (chunk: Buffer) => stdout.push(chunk))
        stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
        stream.on('exit', (code: number | null, signalName?: string) => {
          exitCode = code ?? undefined
          signal = signalName
        })
        stream.on('close', () => {
          clearTimeout(timer)
          // No exit status: the connection was lost (the guest went away), and what the command did is unknown.
          if (exitCode === undefined && signal === undefined) return reject(new Error(`${this.guest}: the SSH connection was lost before the command ended: ${command}`))
          resolve({
            stdout: Buffer.concat(stdout),
            stderr: Buffer.concat(stderr),
            exitCode: exitCode ?? (signal ? 128 + (signalNumbers[signal] ?? 0) : 255),
          })
        })
        // Like `ssh -n`: a command that reads stdin gets EOF instead of waiting forever.
        stream.end(options.stdin)
      })
    })
  }

  /** Copies a local file to the guest (through `cat`, which every image has). */
  put(localPath: string, remotePath: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.client.exec(`cat > ${shellQuote(remotePath)}`, (error, stream) => {
        if (error) return reject(error)
        let exitCode: number | undefined
        stream.on('exit', (code: number) => (exitCode = code))
        stream.on('close', () => (exitCode === 0 ? resolve() : reject(new Error(`${this.guest}: put ${remotePath} failed (exit ${exitCode})`))))
        stream.resume()
        pipeline(createReadStream(localPath), stream).catch(reject)
      })
    })
  }

  get(remotePath: string, localPath: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.client.exec(`cat ${shellQuote(remotePath)}`, (error, stream) => {
        if (error) return reject(error)
        let exitCode: number | undefined
        const stderr: Buffer[] = []
        stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
        stream.on('exit', (code: number) => (exitCode = code))
        pipeline(stream, createWriteStream(localPath))
          .then(() => {
            if (exitCode === 0) return resolve()
            // No exit status at all: the connection was lost, and the file may be cut short.
            const why = exitCode === undefined ? 'the SSH connection was lost before cat ended' : Buffer.concat(stderr).toString().trim()
            reject(new Error(`${this.guest}: get ${remotePath} failed: ${why}`))
          })
          .catch(reject)
        stream.end()
      })
    })
  }

  close(): void {
    this.client.end()
  }
}

const signalNumbers: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, SEGV: 11, PIPE: 13, TERM: 15 }
