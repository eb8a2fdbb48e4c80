import { randomBytes } from 'node:crypto'

// Framing of a command typed into a serial console, so that console noise cannot break
// it: the echo of the typed line never contains the markers (they are split by quotes
// in what is typed), the exit code is read after the end marker, and stdout and stderr
// come back apart (stderr goes to a file that is printed between two markers).

export interface Frame {
  id: string
  line: string
  begin: string
  middle: string
  endPattern: RegExp
}

export function newFrameId(): string {
  return randomBytes(6).toString('hex')
}

export function frameCommand(command: string, id = newFrameId()): Frame {
  const begin = `VQB${id}`
  const middle = `VQM${id}`
  // Each marker is typed as 'VQ''B…': the shell joins the quotes, the echo does not.
  const typed = (marker: string) => `'${marker.slice(0, 2)}''${marker.slice(2)}'`
  const err = `/tmp/.vq-${id}`
  const line =
    `printf '%s\\n' ${typed(begin)}; ( ${command}\n) </dev/null 2>${err}; vq_rc=$?; ` +
    `printf '\\n%s\\n' ${typed(middle)}; cat ${err} 2>/dev/null; rm -f ${err}; printf '\\n%s%s\\n' ${typed(`VQE${id}`)} "_$vq_rc"\n`
  return { id, line, begin, middle, endPattern: new RegExp(`VQE${id}_(\\d+)\\r?\\n`) }
}

// CSI and OSC sequences, and the lone ESC-letter ones, as busybox and bash emit them.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g

export function stripEscapes(text: string): string {
  return text.replace(ESCAPES, '')
}

export interface FramedResult {
  stdout: string
  stderr: string
  exitCode: number
}

/**
 * Finds a complete frame in console text. Returns undefined while the end marker has
 * not arrived yet. `\r\n` becomes `\n`; the newline the frame adds before each marker
 * is removed, so output without a trailing newline comes back without one.
 */
export function parseFrame(text: string, frame: Frame): { result: FramedResult; end: number } | undefined {
  const end = frame.endPattern.exec(text)
  if (!end) return undefined
  const beginAt = text.indexOf(`${frame.begin}\r\n`) >= 0 ? text.indexOf(`${frame.begin}\r\n`) : text.indexOf(`${frame.begin}\n`)
  const middleAt = text.indexOf(`\n${frame.middle}`, beginAt)
  if (beginAt < 0 || middleAt < 0 || middleAt > end.index) throw new Error(`console frame ${frame.id} is incomplete: markers out of order`)
  const afterBegin = text.indexOf('\n', beginAt) + 1
  const clean = (part: string) => stripEscapes(part).replace(/\r\n/g, '\n').replace(/\n$/, '')
  const afterMiddle = text.indexOf('\n', middleAt + 1) + 1
  return {
    result: {
      stdout: clean(text.slice(afterBegin, middleAt + 1)),
      stderr: clean(text.slice(afterMiddle, end.index)),
      exitCode: Number(end[1]),
    },
    end: end.index + end[0].length,
  }
}
