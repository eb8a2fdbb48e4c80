import { randomBytes } from 'node:crypto'
import { shellQuote } from '../common/shell-quote.js'

// Framing of a command typed into a serial console, so that console noise cannot break
// it:
// - the echo of the typed line never contains the markers (each is split by quotes in
//   what is typed, and the shell joins them only when it runs the line);
// - stdout and stderr go to files first and come back apart, each between markers, so
//   output without a trailing newline or with marker-like text stays exact;
// - in the default `base64` encoding the output travels base64-encoded: a kernel message
//   that lands in the middle of it (or of a marker) is recognised by its timestamp and
//   removed before decoding, since no byte of the command's own output is ever printed
//   raw. Images without `base64` use the `raw` encoding.
// The exit code is read after the end marker.

export type FrameEncoding = 'base64' | 'raw'

export interface Frame {
  id: string
  encoding: FrameEncoding
  line: string
  begin: string
  middle: string
  endPattern: RegExp
}

export function newFrameId(): string {
  return randomBytes(6).toString('hex')
}

/** How a marker is typed: 'VQ''B…' prints as VQB… but never appears as such in the echo. */
function typed(marker: string): string {
  return `'${marker.slice(0, 2)}''${marker.slice(2)}'`
}

/** Longest command line typed as it is; a tty's canonical mode truncates lines past 4095 bytes. */
export const MAX_TYPED_LINE = 900

/**
 * A long command is first written to a file in pieces short enough for any console
 * (`printf '%s' 'piece' >> file`), then run from there; a short one is typed as it is.
 */
function commandLines(command: string, file: string): { upload: string; run: string } {
  if (command.length <= MAX_TYPED_LINE && !command.split('\n').some((line) => line.length > MAX_TYPED_LINE / 2)) return { upload: '', run: command }
  const characters = Array.from(command)
  const pieces: string[] = []
  for (let at = 0; at < characters.length; at += 200) pieces.push(characters.slice(at, at + 200).join(''))
  const upload = pieces.map((piece) => `printf '%s' ${shellQuote(piece)} >> ${file}\n`).join('')
  return { upload: `rm -f ${file}\n${upload}`, run: `. ${file}` }
}

export function frameCommand(command: string, encoding: FrameEncoding = 'base64', id = newFrameId()): Frame {
  const begin = `VQB${id}`
  const middle = `VQM${id}`
  const out = `/tmp/.vq-${id}.o`
  const err = `/tmp/.vq-${id}.e`
  const script = `/tmp/.vq-${id}.c`
  const { upload, run } = commandLines(command, script)
  // base64 of an empty file prints nothing: `[` is a shell builtin, base64 another program to start.
  const show = (file: string) => (encoding === 'base64' ? `[ ! -s ${file} ] || base64 ${file}` : `cat ${file}; printf '\\n'`)
  const line =
    upload +
    `printf '%s\\n' ${typed(begin)}; ( ${run}\n) </dev/null >${out} 2>${err}; vq_rc=$?; ` +
    `${show(out)}; printf '%s\\n' ${typed(middle)}; ${show(err)}; rm -f ${out} ${err} ${script}; ` +
    `printf '%s%s\\n' ${typed(`VQE${id}`)} "_$vq_rc"\n`
  return { id, encoding, line, begin, middle, endPattern: new RegExp(`VQE${id}_(\\d+)\\r?\\n`) }
}

// CSI and OSC sequences, and the lone ESC-letter ones, as busybox and bash emit them.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g

export function stripEscapes(text: string): string {
  return text.replace(ESCAPES, '')
}

// A kernel message on the console: "[  123.456789] text" up to the end of its line.
const KERNEL_MESSAGE = /\[ *\d+\.\d{6}\] [^\r\n]*\r?\n/g

export function stripKernelMessages(text: string): string {
  return text.replace(KERNEL_MESSAGE, '')
}

export interface FramedResult {
  stdout: string
  stderr: string
  exitCode: number
}

/**
 * Finds a complete frame in console text. Returns undefined while the end marker has
 * not arrived yet. In raw encoding `\r\n` becomes `\n` and the newline the frame adds
 * after each part is removed, so output without a trailing newline comes back without one.
 */
export function parseFrame(consoleText: string, frame: Frame): { result: FramedResult; end: number } | undefined {
  // Kernel messages go first: one may have landed inside a marker, the end marker too.
  const text = frame.encoding === 'base64' ? stripKernelMessages(stripEscapes(consoleText)) : consoleText
  const end = frame.endPattern.exec(text)
  if (!end) return undefined
  const beginLine = new RegExp(`${frame.begin}\\r?\\n`).exec(text)
  const middleAt = text.indexOf(`${frame.middle}`, beginLine ? beginLine.index : 0)
  if (!beginLine || middleAt < 0 || middleAt > end.index) throw new Error(`console frame ${frame.id} is damaged: its markers are missing or out of order`)
  const stdoutPart = text.slice(beginLine.index + beginLine[0].length, middleAt)
  const stderrPart = text.slice(text.indexOf('\n', middleAt) + 1, end.index)
  const decode =
    frame.encoding === 'base64'
      ? (part: string) => Buffer.from(part.replace(/\s+/g, ''), 'base64').toString('utf8')
      : (part: string) => stripEscapes(part).replace(/\r\n/g, '\n').replace(/\n$/, '')
  return { result: { stdout: decode(stdoutPart), stderr: decode(stderrPart), exitCode: Number(end[1]) }, end: end.index + end[0].length }
}
