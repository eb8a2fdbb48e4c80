import type { Readable } from 'node:stream'

// Newline-delimited JSON, the framing of every socket and pipe between our processes
// (and QEMU's QMP). A line that is not JSON, or longer than the limit, is reported
// through `onMalformed` and skipped: one bad line never ends the reader or its process.

export interface JsonLinesOptions {
  /** Longest line accepted, in characters; a longer one is dropped up to its newline. */
  maxLineLength?: number
  /** Called, instead of throwing, for each line that is skipped. */
  onMalformed?: (problem: string) => void
}

/** The default limit: a command's output travels in one line, so it is generous. */
export const MAX_JSON_LINE = 256 * 1024 * 1024

/** Calls `onMessage` with each JSON value of a newline-delimited stream. */
export function readJsonLines<T>(stream: Readable, onMessage: (message: T) => void, options: JsonLinesOptions = {}): void {
  const split = jsonLineSplitter<T>(onMessage, options)
  stream.setEncoding('utf8')
  stream.on('data', split)
}

/** The parser behind readJsonLines: feed it text in any pieces. */
export function jsonLineSplitter<T>(onMessage: (message: T) => void, options: JsonLinesOptions = {}): (chunk: string) => void {
  const max = options.maxLineLength ?? MAX_JSON_LINE
  const pieces: string[] = []
  let length = 0
  let skipping = false
  const report = (problem: string) => options.onMalformed?.(problem)
  const finish = (line: string) => {
    if (!line.trim()) return
    let message: T
    try {
      message = JSON.parse(line) as T
    } catch (error) {
      report(`not JSON (${(error as Error).message}): ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`)
      return
    }
    onMessage(message)
  }
  return (chunk) => {
    let start = 0
    for (;;) {
      const newline = chunk.indexOf('\n', start)
      const end = newline < 0 ? chunk.length : newline
      if (!skipping) {
        const piece = chunk.slice(start, end)
        if (length + piece.length > max) {
          skipping = true
          pieces.length = 0
          length = 0
          report(`a line longer than ${max} characters, dropped`)
        } else {
          pieces.push(piece)
          length += piece.length
        }
      }
      if (newline < 0) return
      if (skipping) skipping = false
      else finish(pieces.join(''))
      pieces.length = 0
      length = 0
      start = newline + 1
    }
  }
}
