// A console's recent text in memory, addressed by absolute positions (characters since the
// console was attached). Text is kept in pieces of a few KiB, so that appending and reading
// recent text cost the size of what is read, never the size of all that is kept (one long
// string would be copied whole by every read of its end); past `limit` characters, the
// oldest pieces are dropped.

const PIECE = 8 * 1024

export class ConsoleBuffer {
  private pieces: string[] = []
  /** Absolute position of each piece's first character. */
  private starts: number[] = []
  private first = 0
  private length = 0
  private dropped = 0

  constructor(private readonly limit: number) {}

  /** Position just after the last character. */
  get end(): number {
    return this.dropped + this.length
  }

  /** Position of the oldest character still in memory. */
  get start(): number {
    return this.dropped
  }

  append(text: string): void {
    if (!text) return
    const last = this.pieces.length - 1
    if (last >= this.first && this.pieces[last]!.length + text.length <= PIECE) this.pieces[last] += text
    else {
      this.pieces.push(text)
      this.starts.push(this.end)
    }
    this.length += text.length
    while (this.length - this.pieces[this.first]!.length >= this.limit) {
      const size = this.pieces[this.first]!.length
      this.pieces[this.first] = ''
      this.first++
      this.length -= size
      this.dropped += size
    }
    if (this.first > 1024 && this.first * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.first)
      this.starts = this.starts.slice(this.first)
      this.first = 0
    }
  }

  /** The text between two positions, as far as it is still in memory. */
  slice(from: number, to = this.end): string {
    from = Math.max(from, this.dropped)
    to = Math.min(to, this.end)
    if (to <= from) return ''
    const parts: string[] = []
    for (let i = this.pieceAt(from); i < this.pieces.length && this.starts[i]! < to; i++) {
      const begin = this.starts[i]!
      parts.push(this.pieces[i]!.slice(Math.max(0, from - begin), to - begin))
    }
    return parts.join('')
  }

  /** Index of the piece holding position `at` (at least `first`). */
  private pieceAt(at: number): number {
    let low = this.first
    let high = this.pieces.length - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (this.starts[middle]! <= at) low = middle
      else high = middle - 1
    }
    return low
  }
}
