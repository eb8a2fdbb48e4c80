import { createHash, randomBytes } from 'node:crypto'
import { shellQuote } from '../common/shell-quote.js'

// Framing of commands typed into a serial console, so that nothing else printed on the
// console can pass for their output.
//
// Version 2 (`framed`): a small helper is defined once per console session in the guest's
// shell (`vq`, `vq_s`; see `helperLines`), so a command is typed as one short line,
// `vq NONCE 'command'`. The helper runs the command with stdout and stderr in files, then
// prints each non-empty file base64-encoded, every line prefixed with the nonce and the
// stream (`<nonce>o…`, `<nonce>e…`), and last an end line `<nonce>z RC LEN MD5 LEN MD5`
// with each stream's byte length and MD5 computed in the guest. The host takes only the
// lines that are well-formed payload lines of this nonce, so any other line (the kernel, a
// daemon writing to /dev/console, another shell, an imitation of the markers) is ignored;
// output that still fails its length or checksum (a foreign line spliced into a payload
// line) is printed again from the same files under a new nonce (`vq_s NONCE`), which the
// guest keeps until the next command.
//
// Version 1 (`raw`), for shells without base64/md5sum/stat: markers around the plain output.
// Its output cannot be verified.

export type FrameEncoding = 'base64' | 'raw'

export function newNonce(): string {
  return randomBytes(5).toString('hex')
}

/** Longest line typed into a console, in bytes (UTF-8): a tty's canonical mode and the shells' line readers take lines of bounded length; longer commands are uploaded in pieces. */
export const MAX_TYPED_LINE_BYTES = 900
/** Outputs up to this many bytes are printed as one payload line (one write, one program less). */
export const SMALL_OUTPUT_BYTES = 512

const FILES = '/tmp/.vq'

/**
 * The helper's definitions, one typed line each (POSIX sh: busybox ash, dash, bash).
 * `vq NONCE CMD` runs CMD (`vq NONCE -` runs the uploaded /tmp/.vq.b, base64) in a
 * subshell, so `exit`, `cd` and syntax errors stay in there, as the body of a function
 * without arguments (`$1`, `$#` are the command's own; the shell's messages read as for
 * a typed command, without the "eval: " that eval would put in them); `vq_s NONCE`
 * prints the frame. Where `xxd`
 * is (busybox runs it without exec), an output of at most SMALL_OUTPUT_BYTES bytes costs
 * one command substitution: its MD5 and its bytes in hex (`<nonce>o:<hex>`); a larger one
 * goes as base64 lines through sed (`<nonce>o<base64>`).
 */
export function helperLines(): string[] {
  const large = `vq_l=$(stat -c %s $vq_f);echo;base64 -w 240 $vq_f|sed "s/^/$vq_n$vq_t/"`
  const end = `done;printf '\\n%sz %s%s\\n' $vq_n $vq_rc "$vq_z";}`
  const hex =
    `vq_s(){ vq_n=$1;vq_z=;for vq_t in o e;do vq_f=${FILES}.$vq_t;if [ -s $vq_f ];then set -- $(md5sum $vq_f;xxd -p -l ${SMALL_OUTPUT_BYTES + 1} $vq_f);vq_m=$1;shift 2;` +
    `IFS=;vq_x="$*";unset IFS;vq_l=$((\${#vq_x}/2));if [ $vq_l -le ${SMALL_OUTPUT_BYTES} ];then printf '\\n%s%s:%s\\n' $vq_n $vq_t $vq_x;else ${large};fi;` +
    `vq_z="$vq_z $vq_l $vq_m";else vq_z="$vq_z 0 -";fi;${end}`
  const base64 =
    `vq_s(){ vq_n=$1;vq_z=;for vq_t in o e;do vq_f=${FILES}.$vq_t;if [ -s $vq_f ];then set -- $(md5sum $vq_f);vq_m=$1;${large};` +
    `vq_z="$vq_z $vq_l $vq_m";else vq_z="$vq_z 0 -";fi;${end}`
  const run =
    `vq(){ vq_n=$1;if [ "$2" = - ];then base64 -d ${FILES}.b >${FILES}.c;set -- $1 ". ${FILES}.c";fi;` +
    `(vq_c=$2;eval "vq_f(){ $vq_c\n}"&&vq_f) </dev/null >${FILES}.o 2>${FILES}.e;vq_rc=$?;vq_s $vq_n;}`
  return [`if command -v xxd >/dev/null; then ${hex}`, `else ${base64}`, 'fi', run]
}

/**
 * What is typed to set a console session up: echo off (framed commands are not echoed;
 * the transcript records them), kernel messages off the console, the helper, and a report
 * line `<nonce>i v2` (or `<nonce>i raw` when the shell lacks a tool the helper needs).
 * The report's marker is split by quotes in what is typed, so an echo cannot match it.
 */
export function setupText(nonce: string): string {
  const tools = ['base64', 'md5sum', 'stat', 'sed'].map((tool) => `command -v ${tool} >/dev/null`).join(' && ')
  return [
    'stty -echo cols 1000 2>/dev/null; dmesg -n 1 2>/dev/null',
    ...helperLines(),
    `if ${tools}; then echo ${split(`${nonce}i`)} v2; else echo ${split(`${nonce}i`)} raw; fi`,
  ].join('\n') + '\n'
}

export const SETUP_PATTERN = (nonce: string) => new RegExp(`${nonce}i (v2|raw)\\r?\\n`)

function split(marker: string): string {
  return `'${marker.slice(0, 3)}''${marker.slice(3)}'`
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/

/**
 * The text typed for one command: `vq NONCE 'command'` when that line is short and holds no
 * control characters (the tty would act on them), else the command's bytes uploaded
 * base64-encoded in lines of a few hundred bytes, then `vq NONCE -`. Either way, when the
 * helper is missing (the guest was reset), the line prints `<nonce>m`.
 */
export function typedCommand(command: string, nonce: string): string {
  const missing = `||echo ${split(`${nonce}m`)}`
  const line = `vq ${nonce} ${shellQuote(command)}${missing}`
  if (Buffer.byteLength(line) <= MAX_TYPED_LINE_BYTES && !CONTROL.test(command)) return `${line}\n`
  const encoded = Buffer.from(command).toString('base64')
  const pieces: string[] = [`: >${FILES}.b`]
  for (let at = 0; at < encoded.length; at += 600) pieces.push(`printf %s ${encoded.slice(at, at + 600)} >>${FILES}.b`)
  return `${pieces.join('\n')}\nvq ${nonce} -${missing}\n`
}

/** How a resend is typed: the same output files, printed under a new nonce. */
export function resendCommand(nonce: string): string {
  return `vq_s ${nonce}||echo ${split(`${nonce}m`)}\n`
}

export interface ByteFrameResult {
  stdout: Buffer
  stderr: Buffer
  exitCode: number
}

export type FrameOutcome =
  | { kind: 'ok'; result: ByteFrameResult }
  /** The end line arrived but the output did not verify; `lines` are the lines that were ignored or failed. */
  | { kind: 'bad'; reason: string; lines: string[] }
  /** The helper is not defined in this shell (the guest was reset or rebooted). */
  | { kind: 'missing' }

// A kernel message on the console: "[  123.456789] " and the rest of its line.
const KERNEL_MESSAGE = /\[ *\d+\.\d{6}\] /
const PAYLOAD = /^[A-Za-z0-9+/]+={0,2}$/
const HEX_PAYLOAD = /^:(?:[0-9a-f]{2})+$/
const END = /^z (\d{1,3}) (\d+) ([0-9a-f]{32}|-) (\d+) ([0-9a-f]{32}|-)$/
const MAX_KEPT_LINES = 20
const MAX_SHOWN_LINE = 200

/**
 * Reads one frame from console text as it arrives, in time linear in the text: push each
 * chunk; it returns the outcome once the frame's end line (or the missing-helper line)
 * has arrived, and undefined before. Only complete lines that start with the nonce count.
 */
export class FrameParser {
  private partial = ''
  /** The start of a line that a kernel message cut; the rest follows on the next line. */
  private spliced = ''
  private readonly parts: { o: string[]; e: string[] } = { o: [], e: [] }
  private readonly hex: { o: boolean; e: boolean } = { o: false, e: false }
  private readonly ignored: string[] = []
  private ignoredCount = 0
  /** A line with the nonce in it was not well-formed (output of ours, damaged). */
  damaged = false
  /** How many lines held the nonce so far: while it grows, the frame is still arriving. */
  linesWithNonce = 0

  constructor(readonly nonce: string) {}

  push(chunk: string): FrameOutcome | undefined {
    let start = 0
    for (;;) {
      const newline = chunk.indexOf('\n', start)
      if (newline < 0) {
        this.partial += chunk.slice(start)
        // A line this long is no payload line (those are a few hundred bytes): keep only its start.
        if (this.partial.length > 64 * 1024) this.partial = this.partial.slice(0, 1024)
        return undefined
      }
      let line = this.spliced + this.partial + chunk.slice(start, newline)
      this.partial = ''
      this.spliced = ''
      start = newline + 1
      // A kernel message goes to the UART directly, so it can land inside a line of ours:
      // what came before it continues on the line after it (the checksum has the last word).
      const kernel = KERNEL_MESSAGE.exec(line)
      if (kernel) {
        this.spliced = line.slice(0, kernel.index).replace(/\r$/, '')
        this.ignore(line.slice(kernel.index), false)
        continue
      }
      if (line.endsWith('\r')) line = line.slice(0, -1)
      const outcome = this.line(line)
      if (outcome) return outcome
    }
  }

  private line(line: string): FrameOutcome | undefined {
    if (line === '') return undefined
    if (line.includes(this.nonce)) this.linesWithNonce++
    if (!line.startsWith(this.nonce)) {
      this.ignore(line, line.includes(this.nonce))
      return undefined
    }
    const rest = line.slice(this.nonce.length)
    const type = rest[0]
    if (type === 'o' || type === 'e') {
      const payload = rest.slice(1)
      if (PAYLOAD.test(payload)) {
        this.parts[type].push(payload)
        return undefined
      }
      if (HEX_PAYLOAD.test(payload)) {
        // A small output comes in one hex line; a second one, or one among base64 lines, is no frame we printed.
        if (this.hex[type] || this.parts[type].length) this.damaged = true
        this.hex[type] = true
        this.parts[type].push(payload)
        return undefined
      }
    }
    if (rest === 'm') return { kind: 'missing' }
    const end = END.exec(rest)
    if (!end) {
      this.ignore(line, true)
      return undefined
    }
    return this.finish(Number(end[1]), [Number(end[2]), end[3]!], [Number(end[4]), end[5]!])
  }

  private ignore(line: string, damaging: boolean): void {
    if (damaging) this.damaged = true
    this.ignoredCount++
    if (this.ignored.length < MAX_KEPT_LINES) this.ignored.push(line.length > MAX_SHOWN_LINE ? `${line.slice(0, MAX_SHOWN_LINE)}… (${line.length} characters)` : line)
  }

  /** The lines that were ignored so far (the first MAX_KEPT_LINES). */
  offending(): string[] {
    return this.ignoredCount > this.ignored.length ? [...this.ignored, `… and ${this.ignoredCount - this.ignored.length} more`] : this.ignored
  }

  private finish(exitCode: number, out: [number, string], err: [number, string]): FrameOutcome {
    const stdout = this.hex.o ? decodeHex(this.parts.o) : decode(this.parts.o)
    const stderr = this.hex.e ? decodeHex(this.parts.e) : decode(this.parts.e)
    const problems = [check('stdout', stdout, out), check('stderr', stderr, err)].filter((problem) => problem !== undefined)
    if (exitCode > 255) problems.push(`exit code ${exitCode}`)
    if (problems.length) return { kind: 'bad', reason: `${problems.join('; ')}${this.damaged ? ' (a line of the frame was damaged)' : ''}`, lines: this.offending() }
    return { kind: 'ok', result: { stdout, stderr, exitCode } }
  }
}

function decode(parts: string[]): Buffer {
  if (parts.length === 0) return Buffer.alloc(0)
  // Every line but the last holds whole 4-character groups; anything else is no base64 we printed.
  for (let i = 0; i < parts.length - 1; i++) if (parts[i]!.length % 4 !== 0 || parts[i]!.endsWith('=')) return Buffer.from('<misaligned>')
  return Buffer.from(parts.join(''), 'base64')
}

function decodeHex(parts: string[]): Buffer {
  if (parts.length !== 1) return Buffer.from('<several hex lines>')
  return Buffer.from(parts[0]!.slice(1), 'hex')
}

function check(name: string, data: Buffer, [length, md5]: [number, string]): string | undefined {
  if (data.length !== length) return `${name}: ${data.length} bytes arrived, the guest sent ${length}`
  if (length === 0) return md5 === '-' ? undefined : `${name}: empty, with a checksum`
  const actual = createHash('md5').update(data).digest('hex')
  return actual === md5 ? undefined : `${name}: MD5 ${actual} differs from the guest's ${md5}`
}

// ---- version 1, `raw`: for shells that lack base64 ----------------------------------

export interface Frame {
  id: string
  line: string
  begin: string
  middle: string
  endPattern: RegExp
}

/** How a marker is typed: 'VQ''B…' prints as VQB… but never appears as such in the echo. */
function typed(marker: string): string {
  return `'${marker.slice(0, 2)}''${marker.slice(2)}'`
}

/** Writes a long command to a file in pieces short enough for any console, then runs it from there. */
function rawCommandLines(command: string, file: string): { upload: string; run: string } {
  if (Buffer.byteLength(command) <= MAX_TYPED_LINE_BYTES && !CONTROL.test(command)) return { upload: '', run: command }
  const pieces: string[] = []
  let piece = ''
  for (const character of command) {
    if (Buffer.byteLength(piece + character) > 200) {
      pieces.push(piece)
      piece = ''
    }
    piece += character
  }
  if (piece) pieces.push(piece)
  const upload = pieces.map((text) => `printf '%s' ${shellQuote(text)} >> ${file}\n`).join('')
  return { upload: `rm -f ${file}\n${upload}`, run: `. ${file}` }
}

export function frameRawCommand(command: string, id = newNonce()): Frame {
  const begin = `VQB${id}`
  const middle = `VQM${id}`
  const out = `/tmp/.vq-${id}.o`
  const err = `/tmp/.vq-${id}.e`
  const script = `/tmp/.vq-${id}.c`
  const { upload, run } = rawCommandLines(command, script)
  const show = (file: string) => `cat ${file}; printf '\\n'`
  const line =
    upload +
    `printf '%s\\n' ${typed(begin)}; ( ${run}\n) </dev/null >${out} 2>${err}; vq_rc=$?; ` +
    `${show(out)}; printf '%s\\n' ${typed(middle)}; ${show(err)}; rm -f ${out} ${err} ${script}; ` +
    `printf '%s%s\\n' ${typed(`VQE${id}`)} "_$vq_rc"\n`
  return { id, line, begin, middle, endPattern: new RegExp(`VQE${id}_(\\d+)\\r?\\n`) }
}

// CSI and OSC sequences, and the lone ESC-letter ones, as busybox and bash emit them.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g

export function stripEscapes(text: string): string {
  return text.replace(ESCAPES, '')
}

/**
 * Finds a complete raw frame in console text (undefined until the end marker arrived).
 * `\r\n` becomes `\n` and the newline the frame adds after each part is removed.
 */
export function parseRawFrame(consoleText: string, frame: Frame): { result: { stdout: string; stderr: string; exitCode: number }; end: number } | undefined {
  const end = frame.endPattern.exec(consoleText)
  if (!end) return undefined
  const beginLine = new RegExp(`${frame.begin}\\r?\\n`).exec(consoleText)
  const middleAt = consoleText.indexOf(frame.middle, beginLine ? beginLine.index : 0)
  if (!beginLine || middleAt < 0 || middleAt > end.index) throw new Error(`console frame ${frame.id} is damaged: its markers are missing or out of order`)
  const stdoutPart = consoleText.slice(beginLine.index + beginLine[0].length, middleAt)
  const stderrPart = consoleText.slice(consoleText.indexOf('\n', middleAt) + 1, end.index)
  const decodeRaw = (part: string) => stripEscapes(part).replace(/\r\n/g, '\n').replace(/\n$/, '')
  return { result: { stdout: decodeRaw(stdoutPart), stderr: decodeRaw(stderrPart), exitCode: Number(end[1]) }, end: end.index + end[0].length }
}
