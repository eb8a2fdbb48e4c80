import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from './deadline.js'

// Connecting to a unix socket that a process is about to create (QEMU's serial and
// QMP sockets): tried again every `retryMs` until the deadline, then a TimeoutError
// that says what was awaited and why the last try failed. Once `signal` aborts (its
// client was closed) it stops, and a connection made meanwhile is dropped: a QEMU
// started next on the same path serves one client per socket, and must get the new one.

export async function connectWithRetry(path: string, options: { deadline: number; what: string; retryMs?: number; signal?: AbortSignal }): Promise<Socket> {
  for (;;) {
    options.signal?.throwIfAborted()
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const socket = connect(path)
        socket.once('connect', () => {
          socket.off('error', reject)
          resolve(socket)
        })
        socket.once('error', reject)
      })
      if (options.signal?.aborted) {
        socket.destroy()
        options.signal.throwIfAborted()
      }
      return socket
    } catch (error) {
      options.signal?.throwIfAborted()
      if (Date.now() >= options.deadline) throw new TimeoutError(`${options.what}: ${(error as Error).message}`)
      await sleep(Math.min(options.retryMs ?? 20, Math.max(0, options.deadline - Date.now())))
    }
  }
}
