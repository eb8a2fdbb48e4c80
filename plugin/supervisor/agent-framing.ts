// The guest agent's wire format (see the agent script in images/guest-init.ts), read as a
// stream: bytes outside a frame are skipped; a frame is "VQA:ID:S\n", stdout's bytes,
// "VQA:ID:E\n", stderr's bytes, "VQA:ID:X:CODE\n"; a ping's answer is "VQA:ID:P\n".
// Each byte is looked at a bounded number of times, whatever the output's size: the
// end markers are searched in each new chunk plus a marker's length of the one before.

export type AgentMessage = { type: 'pong'; id: string } | { type: 'result'; id: string; stdout: Buffer; stderr: Buffer; exitCode: number }

/** A command's id: letters and digits, which the agent's `read` takes as one word. */
export const AGENT_ID = /^[0-9a-z]{1,32}$/

export function agentRequest(id: string, command: string): string {
  const lines = command.split('\n')
  return `X ${id} ${lines.length}\n${lines.join('\n')}\n`
}

type State =
  | { at: 'outside' }
  | { at: 'stdout'; id: string; parts: Buffer[] }
  | { at: 'stderr'; id: string; stdout: Buffer; parts: Buffer[] }
  | { at: 'code'; id: string; stdout: Buffer; stderr: Buffer }

const HEADER = /^VQA:([0-9a-z]{1,32}):([SP])$/

export class AgentFrameReader {
  private state: State = { at: 'outside' }
  /** Bytes not yet consumed: a partial line outside a frame, or a possible start of a marker inside one. */
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly onMessage: (message: AgentMessage) => void) {}

  push(chunk: Buffer): void {
    let data: Buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = Buffer.alloc(0)
    while (data.length > 0) {
      const rest = this.step(data)
      if (rest === undefined) return
      data = rest
    }
  }

  /** Consumes what it can of `data`; returns what is left to read next, or undefined when it must wait for more. */
  private step(data: Buffer): Buffer | undefined {
    const state = this.state
    if (state.at === 'outside') {
      const newline = data.indexOf(0x0a)
      if (newline < 0) {
        // A line longer than any header is not one: keep only its end.
        this.pending = data.length > 64 ? data.subarray(data.length - 64) : data
        return undefined
      }
      const header = HEADER.exec(data.subarray(0, newline).toString('latin1').replace(/^.*(?=VQA:)/s, ''))
      if (header?.[2] === 'P') this.onMessage({ type: 'pong', id: header[1]! })
      else if (header?.[2] === 'S') this.state = { at: 'stdout', id: header[1]!, parts: [] }
      return data.subarray(newline + 1)
    }
    if (state.at === 'code') {
      const newline = data.indexOf(0x0a)
      if (newline < 0) {
        this.pending = data
        return undefined
      }
      this.onMessage({ type: 'result', id: state.id, stdout: state.stdout, stderr: state.stderr, exitCode: Number(data.subarray(0, newline).toString('latin1')) })
      this.state = { at: 'outside' }
      return data.subarray(newline + 1)
    }
    const marker = Buffer.from(state.at === 'stdout' ? `VQA:${state.id}:E\n` : `VQA:${state.id}:X:`, 'latin1')
    const found = data.indexOf(marker)
    if (found < 0) {
      // All but what could be the start of a marker cut by the chunk's end is output.
      const keep = Math.min(data.length, marker.length - 1)
      state.parts.push(Buffer.from(data.subarray(0, data.length - keep)))
      this.pending = Buffer.from(data.subarray(data.length - keep))
      return undefined
    }
    state.parts.push(Buffer.from(data.subarray(0, found)))
    const part = Buffer.concat(state.parts)
    this.state = state.at === 'stdout' ? { at: 'stderr', id: state.id, stdout: part, parts: [] } : { at: 'code', id: state.id, stdout: state.stdout, stderr: part }
    return data.subarray(found + marker.length)
  }
}
