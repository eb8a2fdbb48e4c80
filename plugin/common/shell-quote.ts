// One way to put any text into a POSIX shell command as a single word: single quotes,
// with each single quote written as '\''. Used for every shell a guest or host runs.

export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}
