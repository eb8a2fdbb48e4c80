// A console transcript as a person reads it: the framed commands' payload lines (see
// supervisor/console-framing.ts) decoded back into their output, their end lines shown
// as the exit code, the session's set-up report dropped; everything else (boot output,
// the kernel, what was typed) as it was. The raw transcript stays in its own file.

const NONCE = '[0-9a-f]{10}'
const SMALL = new RegExp(`^${NONCE}([oe]):([0-9a-f]*)$`)
const LARGE = new RegExp(`^${NONCE}([oe])([A-Za-z0-9+/]+=*)$`)
const END = new RegExp(`^${NONCE}z (\\d+)(?: (?:\\d+ [0-9a-f]{32}|0 -)){2}$`)
const SETUP = new RegExp(`^${NONCE}i (v2|raw)$`)

export function readableConsole(text: string): string {
  const out: string[] = []
  let pending = ''
  let stream: 'o' | 'e' | undefined
  const flush = () => {
    if (!pending) return
    const lines = pending.replace(/\n$/, '').split('\n')
    out.push(...(stream === 'e' ? lines.map((line) => `stderr: ${line}`) : lines))
    pending = ''
  }
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '')
    const small = SMALL.exec(line)
    const large = small ? undefined : LARGE.exec(line)
    const payload = small ? Buffer.from(small[2]!, 'hex') : large ? Buffer.from(large[2]!, 'base64') : undefined
    if (payload) {
      const which = (small ?? large)![1] as 'o' | 'e'
      if (which !== stream) flush()
      stream = which
      pending += payload.toString('utf8')
      continue
    }
    flush()
    stream = undefined
    const end = END.exec(line)
    if (end) out.push(`(exit ${end[1]})`)
    else if (!SETUP.test(line) && line !== '') out.push(line)
  }
  flush()
  return out.join('\n')
}
