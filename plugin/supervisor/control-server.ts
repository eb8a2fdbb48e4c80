import { rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { runCommand } from '../common/run-command.js'
import { type ControlErrorCode, type ControlRequest, type ControlResponse, validateRequest } from '../protocol/control-protocol.js'
import { toWire } from '../protocol/exec-result.js'
import { openTcp, type GuestProcess } from './guest-process.js'
import { exposeHostSocket } from './host-port-exposer.js'
import type { PacketCaptures } from './packet-capture.js'
import { readJsonLines } from '../protocol/json-lines.js'
import { partitionTableName, type UndoJournal } from '../run/undo-journal.js'

// The supervisor's sockets for workers: one control socket (serial and QMP requests,
// served one at a time per guest by the channel owners) and one forwarding socket per
// guest (a client writes "PORT\n", then the stream is the guest's TCP port).

export interface LabReset {
  /**
   * Brings every guest back to its saved state; with `ifUsed`, only when a client used the
   * lab since the last reset; with `onlyUsed`, only the guests used since their last reset.
   */
  reset(ifUsed: boolean, onlyUsed?: boolean): Promise<unknown>
  /** Called on every request that may change the lab: with the guest it reaches, if one. */
  used(guest?: string): void
  /** Resolves when no reset is under way: requests wait for it, so none reaches a guest being replaced. */
  settled(): Promise<void>
}

/** Longest request line: commands and text typed into consoles, never megabytes. */
const MAX_REQUEST_LENGTH = 16 * 1024 * 1024
/** How long typed text may wait for a freshly booted shell to be set up (the client waits up to two minutes). */
const SETUP_BEFORE_TYPING_MS = 60_000

/** Where partitions' tables go: named with the run's id, and in host mode (where they live in the host's namespace and must not outlive the run) journaled. */
export interface PartitionPlace {
  runId: string
  journal?: UndoJournal
}

export function serveControl(path: string, guests: Map<string, GuestProcess>, partitions: PartitionPlace, captures: PacketCaptures, labReset: LabReset, bridgeAddresses: string[] = []): Server {
  rmSync(path, { force: true })
  const server = createServer((socket) => {
    socket.on('error', () => {})
    const reply = (response: ControlResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`)
    }
    // Waits that a `serial.cancel` on this connection may end, by request id.
    const cancellable = new Map<number, AbortController>()
    socket.on('close', () => {
      for (const controller of cancellable.values()) controller.abort(new Error('the client went away'))
    })
    readJsonLines<unknown>(socket, (line) => {
      const valid = validateRequest(line)
      if (!('request' in valid)) return reply({ id: valid.id, ok: false, error: `vitest-qemu: a request was refused: ${valid.error}` })
      const { request } = valid
      if (request.op === 'serial.cancel') {
        cancellable.get(request.target)?.abort(new Error(`aborted by the client (request ${request.target})`))
        reply({ id: request.id, ok: true, result: null })
        return
      }
      if (request.op === 'lab.reset') {
        labReset.reset(request.ifUsed, request.onlyUsed ?? false).then((result) => reply({ id: request.id, ok: true, result }), (error: Error) => reply({ id: request.id, ok: false, error: error.message }))
        return
      }
      // Reading a console's transcript changes nothing; everything else may.
      if (request.op !== 'serial.position' && request.op !== 'serial.slice') labReset.used('guest' in request ? request.guest : undefined)
      const controller = request.op === 'serial.expect' ? new AbortController() : undefined
      if (controller) cancellable.set(request.id, controller)
      labReset.settled().then(() => handle(request, guests, partitions, captures, bridgeAddresses, controller?.signal)).then(
        (result) => reply({ id: request.id, ok: true, result }),
        (error: Error & { code?: ControlErrorCode }) => reply({ id: request.id, ok: false, error: error.message, code: error.code }),
      ).finally(() => cancellable.delete(request.id))
    }, { maxLineLength: MAX_REQUEST_LENGTH, onMalformed: (problem) => reply({ id: 0, ok: false, error: `vitest-qemu: a malformed request was ignored: ${problem}` }) })
  })
  // A server's failure (its path taken, too long) ends the supervisor's start with its reason, not a crash.
  server.on('error', (error) => process.stderr.write(`vitest-qemu supervisor: the control socket ${path}: ${error.message}\n`))
  server.listen(path)
  return server
}

async function handle(
  request: Exclude<ControlRequest, { op: 'lab.reset' | 'serial.cancel' }>,
  guests: Map<string, GuestProcess>,
  partitions: PartitionPlace,
  captures: PacketCaptures,
  bridgeAddresses: string[],
  signal?: AbortSignal,
): Promise<unknown> {
  if (request.op === 'capture.start') return captures.start(request.name, request.iface)
  if (request.op === 'capture.stop') return captures.stop(request.name)
  if (request.op === 'lab.show') return showLabNetwork(request.object, request.args)
  if (request.op === 'lab.partition') return partition(request.name, request.a, request.b, partitions)
  if (request.op === 'lab.heal') return heal(request.name, partitions)
  if (request.op === 'lab.probe') return probeTcp(request.host, request.port, request.timeout)
  if (request.op === 'lab.expose') return { port: (await exposeHostSocket(request.socket, bridgeAddresses)).port }
  const guest = guests.get(request.guest)
  if (!guest) throw new Error(`no guest named ${request.guest}`)
  // A guest whose QEMU died answers every call with that, at once, in flight or not.
  return guest.unlessExited(() => guestRequest(request, guest, signal))
}

async function guestRequest(request: Extract<ControlRequest, { guest: string }>, guest: GuestProcess, signal?: AbortSignal): Promise<unknown> {
  const console = guest.console
  switch (request.op) {
    case 'agent.exec':
      if (!guest.agent) throw Object.assign(new Error(`${guest.plan.name}: this guest has no agent`), { code: 'agent-unavailable' })
      return toWire(await guest.agent.exec(request.command, request.timeout))
    case 'serial.exec':
      return toWire(await console.exec(request.command, request.timeout))
    case 'serial.send':
      return console.type(request.text, SETUP_BEFORE_TYPING_MS)
    case 'serial.expect':
      return console.expect(new RegExp(request.source, request.flags), { from: request.from, timeout: request.timeout, signal })
    case 'serial.position':
      return console.position
    case 'serial.slice':
      return console.slice(request.from, request.to)
    case 'qmp':
      return guest.qmp.command(request.command, request.args)
  }
}

/** `ip -j OBJECT show ARGS` (or `bridge -j fdb show ARGS`) inside the lab's namespace: read-only views for tests. */
async function showLabNetwork(object: string, args: string[]): Promise<unknown> {
  if (!['link', 'addr', 'route', 'neigh', 'fdb'].includes(object) || args.some((arg) => typeof arg !== 'string')) throw new Error(`lab.show: cannot show ${object}`)
  const { stdout } = object === 'fdb' ? await runCommand('bridge', ['-j', 'fdb', 'show', ...args]) : await runCommand('ip', ['-j', '-d', object, 'show', ...args])
  return JSON.parse(stdout || '[]')
}

// A partition drops every frame between the two groups' MACs on the lab's bridges
// (nftables, bridge family), so neither ARP replies nor IP get across; healing deletes
// the table.
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/

function partitionTable(name: string, runId: string): string {
  if (!/^[a-z0-9_]{1,24}$/.test(name)) throw new Error(`lab.partition: invalid name ${JSON.stringify(name)}`)
  return partitionTableName(runId, name)
}

async function partition(name: string, a: string[], b: string[], place: PartitionPlace): Promise<void> {
  const table = partitionTable(name, place.runId)
  if (a.length === 0 || b.length === 0 || ![...a, ...b].every((mac) => MAC.test(mac))) throw new Error('lab.partition: each group needs at least one guest')
  const set = (macs: string[]) => `{ ${macs.join(', ')} }`
  const script = `table bridge ${table} {\n chain forward {\n  type filter hook forward priority 0;\n  ether saddr ${set(a)} ether daddr ${set(b)} drop\n  ether saddr ${set(b)} ether daddr ${set(a)} drop\n }\n}\n`
  const record = { kind: 'nft-table', family: 'bridge', name: table, runId: place.runId } as const
  place.journal?.add(record)
  try {
    await runCommand('nft', ['-f', '-'], { input: script })
  } catch (error) {
    // nft -f applies a script whole or not at all: nothing was made.
    place.journal?.remove(record)
    throw error
  }
}

async function heal(name: string, place: PartitionPlace): Promise<void> {
  const table = partitionTable(name, place.runId)
  await runCommand('nft', ['delete', 'table', 'bridge', table])
  place.journal?.remove({ kind: 'nft-table', family: 'bridge', name: table, runId: place.runId })
}

/** Whether a TCP connection from the lab's side to host:port succeeds within the timeout. */
function probeTcp(host: string, port: number, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout })
    const done = (open: boolean) => {
      socket.destroy()
      resolve(open)
    }
    socket.once('connect', () => done(true))
    socket.once('timeout', () => done(false))
    socket.once('error', () => done(false))
  })
}

/** @param portReady resolves once a port may be connected to (SSH still coming up); rejects if it never will. */
export function serveForwarding(
  path: string,
  host: string,
  labReset?: Pick<LabReset, 'used' | 'settled'>,
  portReady: (port: number) => Promise<void> = async () => {},
  /** Filled with the open connections, so that a reset of the guest can end them. */
  connections = new Set<Socket>(),
): Server {
  rmSync(path, { force: true })
  const server = createServer((client) => {
    labReset?.used()
    connections.add(client)
    client.on('close', () => connections.delete(client))
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
      ;(labReset?.settled() ?? Promise.resolve()).then(() => portReady(port)).then(() => openTcp(host, port)).then(
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
  server.on('error', (error) => process.stderr.write(`vitest-qemu supervisor: the forwarding socket ${path}: ${error.message}\n`))
  server.listen(path)
  return server
}
