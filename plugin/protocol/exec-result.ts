// A command's result as it crosses the control socket: the output's bytes exactly, as
// base64 in the JSON line, whatever they are (binary, invalid UTF-8, NULs).

export interface ByteExecResult {
  stdout: Buffer
  stderr: Buffer
  exitCode: number
}

export interface WireExecResult {
  /** base64 */
  stdout: string
  /** base64 */
  stderr: string
  exitCode: number
}

export function toWire(result: ByteExecResult): WireExecResult {
  return { stdout: result.stdout.toString('base64'), stderr: result.stderr.toString('base64'), exitCode: result.exitCode }
}

export function fromWire(result: WireExecResult): ByteExecResult {
  return { stdout: Buffer.from(result.stdout, 'base64'), stderr: Buffer.from(result.stderr, 'base64'), exitCode: result.exitCode }
}
