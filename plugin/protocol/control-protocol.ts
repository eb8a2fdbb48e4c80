// Requests that workers send to the supervisor's control socket (JSON lines), for the
// channels only the supervisor can own: a guest's serial console and its QMP.

export type ControlRequest =
  /** Answered with a `WireExecResult` (exec-result.ts): the output's bytes exactly. */
  | { id: number; op: 'serial.exec'; guest: string; command: string; timeout: number }
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
  | { id: number; op: 'lab.reset'; ifUsed: boolean }

/** An answer, by the request's id; id 0 answers a line that could not be read as a request. */
export type ControlResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }
