// What a terminal attaching to a guest's console is shown first: the end of the
// transcript, one screen high, so the user sees where the console stands (a prompt).

// Queries a terminal answers (cursor position, status, device attributes): replayed
// output must not ask them, or the answers would be typed into the guest's shell.
const TERMINAL_QUERIES = /\u001b\[[?>=]?[0-9;]*[nc]/g

// Framed commands the lab ran on the console (see console-framing.ts), from the echo of
// the typed line (its begin marker split by quotes) or the begin marker to the end
// marker: they say nothing to a person.
const FRAMED_COMMANDS = /(?:printf '%s\\n' )?(?:'VQ''B|VQB)([0-9a-f]{12})[\s\S]*?VQE\1_\d+\r?\n/g

export function lastScreenful(transcript: string, rows: number): string {
  const text = transcript.replace(FRAMED_COMMANDS, '').replace(TERMINAL_QUERIES, '')
  const lines = text.split('\n')
  return lines.slice(-Math.max(1, rows - 1)).join('\n')
}

/** Parses the "ROWS COLS" line a client sends when it attaches. */
export function parseTerminalSize(line: string): { rows: number; cols: number } | undefined {
  const match = /^(\d{1,4}) (\d{1,4})$/.exec(line.trim())
  if (!match) return undefined
  const rows = Number(match[1])
  const cols = Number(match[2])
  return rows > 0 && cols > 0 ? { rows, cols } : undefined
}
