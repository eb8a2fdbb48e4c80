import { rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { execa } from 'execa'
import type { ControlRequest, ControlResponse } from './control-protocol.js'
import { openTcp, type GuestProcess } from './guest-process.js'
import { readJsonLines } from './json-lines.js'

// The supervisor's sockets for workers: one control socket (serial and QMP requests,
// served one at a time per guest by the channel owners) and one forwarding socket per
// guest (a client writes "PORT\n", then the stream is the guest's TCP port).

export function serveControl(path: string, guests: Map<string, GuestProcess>): Server {
  rmSync(path, { force: true })
  const server = createServer((socket) => {
    socket.on('error', () => {})
    const reply = (response: ControlResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`)
    }
    readJsonLines<ControlRequest>(socket, (request) => {
      handle(request, guests).then(
        (result) => reply({ id: request.id, ok: true, result }),
        (error: Error) => reply({ id: request.id, ok: false, error: error.message }),
      )
    })
  })
  server.listen(path)
  return server
}

async function handle(request: ControlRequest, guests: Map<string, GuestProcess>): Promise<unknown> {
  if (request.op === 'lab.show') return showLabNetwork(request.object, request.args)
  const guest = guests.get(request.guest)
  if (!guest) throw new Error(`no guest named ${request.guest}`)
  const console = guest.console
  switch (request.op) {
    case 'serial.exec':
      return console.exec(request.command, request.timeout)
    case 'serial.send':
      return console.send(request.text)
    case 'serial.expect':
      return console.expect(new RegExp(request.source, request.flags), { from: request.from, timeout: request.timeout })
    case 'serial.position':
      return console.position
    case 'serial.slice':
      return console.slice(request.from, request.to)
    case 'qmp':
      return guest.qmp.command(request.command, request.args)
  }
}

/** `ip -j OBJECT show ARGS` inside the lab's namespace: read-only views for tests. */
async function showLabNetwork(object: string, args: string[]): Promise<unknown> {
  if (!['link', 'addr', 'route', 'neigh'].includes(object) || args.some((arg) => typeof arg !== 'string')) throw new Error(`lab.show: cannot show ${object}`)
  const { stdout } = await execa('ip', ['-j', '-d', object, 'show', ...args])
  return JSON.parse(stdout || '[]')
}

export function serveForwarding(path: string, host: string): Server {
  rmSync(path, { force: true })
  const server = createServer((client) => {
    client.on('error', () => {})
    let header = ''
    const onData = (chunk: Buffer) => {
      header += chunk.toString('latin1')
      const newline = header.indexOf('\n')
      if (newline < 0) {
        if (header.length > 16) client.destroy()
        return
      }
      client.off('data', onData)
      client.pause()
      const port = Number(header.slice(0, newline))
      const rest = Buffer.from(header.slice(newline + 1), 'latin1')
      openTcp(host, port).then(
        (upstream) => {
          upstream.on('error', () => client.destroy())
          client.on('close', () => upstream.destroy())
          upstream.on('close', () => client.destroy())
          if (rest.length) upstream.write(rest)
          client.pipe(upstream)
          upstream.pipe(client)
          client.resume()
        },
        () => client.destroy(),
      )
    }
    client.on('data', onData)
  })
  server.listen(path)
  return server
}
