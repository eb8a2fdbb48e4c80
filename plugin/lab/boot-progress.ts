import { info, seconds } from '../common/log.js'

// What a person sees while a lab boots. On a terminal: one live line per guest (its
// stage and the time so far), redrawn in place. Elsewhere (CI, a pipe): a plain line per
// stage, timestamped in CI. Either way, once ready: a summary of each guest's boot.

export interface GuestProgress {
  guest: string
  /** The last stage reached, or undefined before QEMU answered. */
  stage?: string
  stages: Record<string, number>
  booted?: 'cold' | 'restored'
  done: boolean
  note?: string
}

const STAGE_ORDER = ['qemu', 'console', 'restore', 'shell', 'ssh']

/** One guest's live line, e.g. `guestA   shell ready    3.4 s`. */
export function progressLine(progress: GuestProgress, elapsedMs: number, width: number): string {
  const state = progress.done ? 'ready' : progress.stage ? `${progress.stage} ready, waiting` : 'starting QEMU'
  const note = progress.note ? `  (${progress.note})` : ''
  return `  ${progress.guest.padEnd(width)}  ${state.padEnd(26)} ${seconds(elapsedMs).padStart(7)}${note}`
}

/** The boot summary: per guest, how it came up and when each stage was reached. */
export function summaryLines(guests: GuestProgress[]): string[] {
  const width = Math.max(...guests.map((guest) => guest.guest.length))
  return guests.map((guest) => {
    const stages = STAGE_ORDER.filter((stage) => guest.stages[stage] !== undefined)
      .map((stage) => `${stage} ${(guest.stages[stage]! / 1000).toFixed(1)}`)
      .join('  ')
    return `  ${guest.guest.padEnd(width)}  ${(guest.booted ?? 'cold').padEnd(8)}  ${stages} s`
  })
}

export class BootProgress {
  private readonly guests: GuestProgress[]
  private readonly started = Date.now()
  private readonly live: boolean
  private readonly width: number
  private drawn = 0
  private timer?: NodeJS.Timeout

  constructor(names: string[], private readonly out: NodeJS.WriteStream = process.stderr) {
    this.guests = names.map((guest) => ({ guest, stages: {}, done: false }))
    this.width = Math.max(...names.map((name) => name.length))
    this.live = out.isTTY === true && !process.env.CI
    if (this.live) {
      this.timer = setInterval(() => this.draw(), 250)
      this.timer.unref()
      this.draw()
    }
  }

  private of(guest: string): GuestProgress | undefined {
    return this.guests.find((progress) => progress.guest === guest)
  }

  stage(guest: string, stage: string, elapsedMs: number): void {
    const progress = this.of(guest)
    if (!progress) return
    progress.stage = stage
    progress.stages[stage] = elapsedMs
    if (this.live) this.draw()
    else info(`  ${guest}: ${stage} ready after ${seconds(elapsedMs)}`)
  }

  note(guest: string, text: string): void {
    const progress = this.of(guest)
    if (progress) progress.note = text
    if (this.live) this.draw()
    else info(`  ${guest}: ${text}`)
  }

  ready(guest: string, booted: 'cold' | 'restored'): void {
    const progress = this.of(guest)
    if (!progress) return
    progress.done = true
    progress.booted = booted
    if (this.live) this.draw()
  }

  /** A line above the live block. */
  message(text: string): void {
    this.clear()
    info(text)
    if (this.live) this.draw()
  }

  /** @param since when the lab's start began (images, network, boot): the summary's total counts from it. */
  finish(ok: boolean, since = this.started): void {
    clearInterval(this.timer)
    this.clear()
    if (!ok) return
    info(`lab ready in ${seconds(Date.now() - since)}; boot stages (seconds since QEMU started):`)
    for (const line of summaryLines(this.guests)) info(line)
  }

  private clear(): void {
    if (!this.live || this.drawn === 0) return
    this.out.write(`\x1b[${this.drawn}F\x1b[J`)
    this.drawn = 0
  }

  private draw(): void {
    const now = Date.now() - this.started
    const lines = this.guests.map((guest) => {
      const elapsed = guest.done ? Math.max(...Object.values(guest.stages), 0) : now
      return `[vitest-qemu] ${progressLine(guest, elapsed, this.width)}`
    })
    const columns = this.out.columns || 120
    this.clear()
    this.out.write(lines.map((line) => `${line.slice(0, columns - 1)}\n`).join(''))
    this.drawn = lines.length
  }
}
