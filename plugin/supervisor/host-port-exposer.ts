import { connect, createServer, type Server } from 'node:net'

// A port of the test process, offered to the guests (`lab.exposeHostPort`): the supervisor
// listens on each bridge's own address, inside the lab, and carries every connection to
// a unix socket of the worker that asked, which carries it on to the port on its
// loopback. Listening on the bridges' addresses only, never on every address, keeps it
// off the host's own interfaces in host mode.

export async function exposeHostSocket(socketPath: string, addresses: string[]): Promise<{ port: number; servers: Server[] }> {
  const servers: Server[] = []
  let port = 0
  for (const address of addresses) {
    const server = createServer((guestSide) => {
      guestSide.on('error', () => {})
      const hostSide = connect(socketPath)
      hostSide.on('error', () => guestSide.destroy())
      guestSide.on('close', () => hostSide.destroy())
      hostSide.on('close', () => guestSide.destroy())
      guestSide.pipe(hostSide)
      hostSide.pipe(guestSide)
    })
    server.on('error', () => {})
    // The first bridge picks a free port; the others take the same, so one port serves every guest.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: address, port }, () => {
        server.off('error', reject)
        resolve()
      })
    }).catch((error: Error) => {
      for (const open of servers) open.close()
      throw new Error(`could not listen on ${address}:${port} for an exposed host port: ${error.message}`)
    })
    if (port === 0) port = (server.address() as { port: number }).port
    servers.push(server)
  }
  return { port, servers }
}
