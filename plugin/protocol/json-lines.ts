import type { Readable } from 'node:stream'

/** Calls `onMessage` with each JSON value of a newline-delimited stream. */
export function readJsonLines<T>(stream: Readable, onMessage: (message: T) => void): void {
  let buffer = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buffer += chunk
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      if (line.trim()) onMessage(JSON.parse(line) as T)
    }
  })
}
