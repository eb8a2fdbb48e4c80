// Requests that workers send to the supervisor's control socket (JSON lines), for the
// channels only the supervisor can own: a guest's serial console and its QMP.

export type ControlRequest =
  /** Answered with a `WireExecResult` (exec-result.ts): the output's bytes exactly. */
  | { id: number; op: 'serial.exec'; guest: string; command: string; timeout: number }
  /** Over the guest agent's private channel; answered with a WireExecResult. */
  | { id: number; op: 'agent.exec'; guest: string; command: string; timeout: number }
  | { id: number; op: 'serial.send'; guest: string; text: string }
  | { id: number; op: 'serial.expect'; guest: string; source: string; flags: string; from?: number; timeout: number }
  /** Ends the wait of an earlier `serial.expect` on this connection (its `id`): it fails with "aborted". */
  | { id: number; op: 'serial.cancel'; target: number }
  | { id: number; op: 'serial.position'; guest: string }
  | { id: number; op: 'serial.slice'; guest: string; from: number; to?: number }
  | { id: number; op: 'qmp'; guest: string; command: string; args?: Record<string, unknown> }
  | { id: number; op: 'lab.show'; object: 'link' | 'addr' | 'route' | 'neigh' | 'fdb'; args: string[] }
  | { id: number; op: 'lab.probe'; host: string; port: number; timeout: number }
  | { id: number; op: 'lab.partition'; name: string; a: string[]; b: string[] }
  | { id: number; op: 'lab.heal'; name: string }
  | { id: number; op: 'capture.start'; name: string; iface: string }
  | { id: number; op: 'capture.stop'; name: string }
  /** `onlyUsed`: only the guests used since their last reset. Answered with { reset, ms, guests }. */
  | { id: number; op: 'lab.reset'; ifUsed: boolean; onlyUsed?: boolean }
  /** Offer the worker's unix socket to the guests on a port of every bridge's address; answered with { port }. */
  | { id: number; op: 'lab.expose'; socket: string }

/** An answer, by the request's id; id 0 answers a line that could not be read as a request. */
export type ControlResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; code?: ControlErrorCode }

/** Errors a client acts on: `agent-unavailable` (the guest has no agent, or it stopped answering: use another channel). */
export type ControlErrorCode = 'agent-unavailable' | 'guest-exited'

// Each request's fields and their kinds, checked before a request is handled: a line
// from any client is data, never trusted to have the shape its op promises.
type Kind = 'string' | 'number' | 'boolean' | 'strings' | 'object'
type Shape = Record<string, Kind | `${Kind}?`>
const GUEST_COMMAND: Shape = { guest: 'string', command: 'string', timeout: 'number' }
const SHAPES: Record<ControlRequest['op'], Shape> = {
  'serial.exec': GUEST_COMMAND,
  'agent.exec': GUEST_COMMAND,
  'serial.send': { guest: 'string', text: 'string' },
  'serial.expect': { guest: 'string', source: 'string', flags: 'string', from: 'number?', timeout: 'number' },
  'serial.cancel': { target: 'number' },
  'serial.position': { guest: 'string' },
  'serial.slice': { guest: 'string', from: 'number', to: 'number?' },
  qmp: { guest: 'string', command: 'string', args: 'object?' },
  'lab.show': { object: 'string', args: 'strings' },
  'lab.probe': { host: 'string', port: 'number', timeout: 'number' },
  'lab.partition': { name: 'string', a: 'strings', b: 'strings' },
  'lab.heal': { name: 'string' },
  'capture.start': { name: 'string', iface: 'string' },
  'capture.stop': { name: 'string' },
  'lab.reset': { ifUsed: 'boolean', onlyUsed: 'boolean?' },
  'lab.expose': { socket: 'string' },
}

function hasKind(value: unknown, kind: Kind): boolean {
  if (kind === 'strings') return Array.isArray(value) && value.every((item) => typeof item === 'string')
  if (kind === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value)
  if (kind === 'number') return typeof value === 'number' && Number.isFinite(value)
  return typeof value === kind
}

/** The request, or why it is not one (with the id to answer, 0 when it has none). */
export function validateRequest(value: unknown): { request: ControlRequest } | { id: number; error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { id: 0, error: 'a request is a JSON object' }
  const record = value as Record<string, unknown>
  const id = Number.isInteger(record.id) && (record.id as number) > 0 ? (record.id as number) : 0
  if (id === 0) return { id, error: 'a request needs a positive integer id' }
  const op = record.op
  if (typeof op !== 'string' || !Object.hasOwn(SHAPES, op)) return { id, error: `unknown request op ${JSON.stringify(op)}` }
  for (const [field, want] of Object.entries(SHAPES[op as ControlRequest['op']])) {
    const optional = want.endsWith('?')
    const kind = want.replace('?', '') as Kind
    if (record[field] === undefined ? !optional : !hasKind(record[field], kind)) return { id, error: `${op}: ${field} must be ${optional ? 'absent or ' : ''}${kind === 'strings' ? 'an array of strings' : `a ${kind}`}` }
  }
  return { request: value as ControlRequest }
}
