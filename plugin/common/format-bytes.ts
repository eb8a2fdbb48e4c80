// Sizes as people read them in messages: GiB with one decimal from 1 GiB up, else whole MiB.

const GIB = 1024 ** 3
const MIB = 1024 ** 2

export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`
  return `${Math.round(bytes / MIB)} MiB`
}
