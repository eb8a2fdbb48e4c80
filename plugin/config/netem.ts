// Network emulation settings (tc netem) as the config (a NIC's `netem`, applied at boot)
// and `lab.netem()` (at test time) take them, turned into tc's options. Times are
// milliseconds as numbers, or tc's own form as text: '100ms', '1.5s', '250us'.

export interface NetemSettings {
  /** Added to every packet: milliseconds, or '100ms', '1s'. */
  delay?: number | string
  /** Random variation around the delay, in the same forms. */
  jitter?: number | string
  /** Percentage of packets dropped (0-100). */
  loss?: number
  /** Bandwidth limit, e.g. '1mbit' or '512kbit'. */
  rate?: string
}

const TIME = /^\d+(\.\d+)?(us|ms|s)$/

/** tc's options for `settings`; throws an error naming `where` and the field. */
export function netemOptions(settings: NetemSettings, where = 'netem'): string {
  if (typeof settings !== 'object' || settings === null) throw new Error(`vitest-qemu: ${where}: expected { delay?, jitter?, loss?, rate? }, got ${JSON.stringify(settings)}`)
  const time = (name: string, value: unknown) => {
    if (typeof value === 'string' && TIME.test(value)) return value
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`vitest-qemu: ${where}.${name} must be milliseconds >= 0 or a time like '100ms', got ${JSON.stringify(value)}`)
    return `${value}ms`
  }
  const parts: string[] = []
  if (settings.delay !== undefined) parts.push(`delay ${time('delay', settings.delay)}${settings.jitter !== undefined ? ` ${time('jitter', settings.jitter)}` : ''}`)
  else if (settings.jitter !== undefined) throw new Error(`vitest-qemu: ${where}.jitter needs a delay`)
  if (settings.loss !== undefined) {
    if (typeof settings.loss !== 'number' || !(settings.loss >= 0 && settings.loss <= 100)) throw new Error(`vitest-qemu: ${where}.loss is a percentage (0-100), got ${JSON.stringify(settings.loss)}`)
    parts.push(`loss ${settings.loss}%`)
  }
  if (settings.rate !== undefined) {
    if (typeof settings.rate !== 'string' || !/^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/.test(settings.rate)) throw new Error(`vitest-qemu: ${where}.rate must look like '1mbit', got ${JSON.stringify(settings.rate)}`)
    parts.push(`rate ${settings.rate}`)
  }
  if (parts.length === 0) throw new Error(`vitest-qemu: ${where} needs at least one of delay, loss, rate`)
  return parts.join(' ')
}
