import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from './deadline.js'

// Connecting to a unix socket that a process is about to create (QEMU's serial and
// QMP sockets): tried again every `retryMs` until the deadline, then a TimeoutError
// that says what was awaited and why the last try failed.

export async function connectWithRetry(path: string, options: { deadline: number; what: string; retryMs?: number }): Promise<Socket> {
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const socket = connect(path)
        socket.once('connect', () => {
          socket.off('error', reject)
          resolve(socket)
        })
        socket.once('error', reject)
      })
    } catch (error) {
      if (Date.now() >= options.deadline) throw new TimeoutError(`${options.what}: ${(error as Error).message}`)
      await sleep(Math.min(options.retryMs ?? 20, Math.max(0, options.deadline - Date.now())))
    }
  }
}
