import { escapeRegExp } from './regex-escape.js'

// Logging: short progress lines on stderr, prefixed so they read well between
// Vitest's own output; details only under DEBUG=vitest-qemu* (or a sub-namespace).

const started = Date.now()

export function info(message: string): void {
  const stamp = process.env.CI ? `${new Date().toISOString()} ` : ''
  process.stderr.write(`${stamp}[vitest-qemu] ${message}\n`)
}

function debugEnabled(namespace: string): boolean {
  const patterns = (process.env.DEBUG ?? '').split(/[\s,]+/).filter(Boolean)
  return patterns.some((pattern) => new RegExp(`^${escapeRegExp(pattern).replaceAll('\\*', '.*')}$`).test(namespace))
}

export type Debug = (message: string) => void

export function debug(namespace: string): Debug {
  const full = `vitest-qemu:${namespace}`
  const enabled = debugEnabled(full)
  return (message) => {
    if (enabled) process.stderr.write(`${full} +${((Date.now() - started) / 1000).toFixed(2)}s ${message}\n`)
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
