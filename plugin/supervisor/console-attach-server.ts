import { rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { lastScreenful, parseTerminalSize } from './console-screenful.js'
import type { SerialConsole } from './serial-console.js'

// A terminal on a guest's serial console (`vitest-qemu console`), through a unix socket
// per guest served by the supervisor, which owns the console. A client writes
// "ROWS COLS\n", gets the last screenful of the transcript, then the live output; what
// it writes is typed on the console. Several clients may be attached at once.

const SCROLLBACK = 64 * 1024

/** @param consoleOf the guest's console now (a reset gives the guest a new one). */
export function serveConsoleAttach(path: string, consoleOf: () => SerialConsole): Server {
  rmSync(path, { force: true })
  let attached = 0
  const server = createServer((client) => {
    client.on('error', () => {})
    let header = Buffer.alloc(0)
    const onHeader = (chunk: Buffer) => {
      header = Buffer.concat([header, chunk])
      const newline = header.indexOf('\n')
      if (newline < 0) {
        if (header.length > 16) client.destroy()
        return
      }
      client.off('data', onHeader)
      const size = parseTerminalSize(header.subarray(0, newline).toString('latin1'))
      if (!size) return void client.destroy()
      attached++
      const console = consoleOf()
      client.write(lastScreenful(console.slice(Math.max(0, console.position - SCROLLBACK)), size.rows))
      const unsubscribe = console.subscribe((text) => client.write(text))
      const type = (input: string | Buffer) => {
        try {
          console.send(input)
        } catch (error) {
          client.end(`\r\n${(error as Error).message}\r\n`)
        }
      }
      // A person wants to see what they type, wrapped at their terminal's width; the lab's
      // framed commands get the console's own settings back when the last client leaves
      // (saved with `stty -g` in the guest's shell). ^U first drops a half-typed line.
      if (attached === 1) type(`\u0015vq_stty=$(stty -g); stty echo rows ${size.rows} cols ${size.cols}\n`)
      const rest = header.subarray(newline + 1)
      if (rest.length > 0) type(rest)
      client.on('data', (data: Buffer) => type(data))
      client.on('close', () => {
        unsubscribe()
        attached--
        if (attached === 0) type('\u0015[ -n "$vq_stty" ] && stty "$vq_stty"\n')
      })
    }
    client.on('data', onHeader)
  })
  server.on('error', (error) => process.stderr.write(`vitest-qemu supervisor: the console socket ${path}: ${error.message}\n`))
  server.listen(path)
  return server
}
