import { connect, type Socket } from 'node:net'

/**
 * A TCP stream to a guest's port through the lab's forwarding socket (served by the
 * supervisor, see serveForwarding): write "PORT\n", then the stream is the guest's port.
 */
export function openForward(path: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.write(`${port}\n`)
      resolve(socket)
    })
    socket.once('error', (error) => reject(new Error(`cannot open the lab's forwarding socket ${path}: ${error.message}`)))
  })
}
