import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

// Where a program is: the PATH's folders first, then the sbin folders that an ordinary
// user's PATH often lacks (ip, iptables, nft live there on some systems).

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin']

export function which(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter), ...SBIN]
  for (const dir of dirs) {
    if (!dir) continue
    const path = join(dir, program)
    try {
      accessSync(path, constants.X_OK)
      if (statSync(path).isFile()) return path
    } catch {
      // not in this folder
    }
  }
  return undefined
}
