import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

// The Node of this run for a command run as another user (runuser -u USER): this one when
// every folder above it lets others through, else a copy in the temporary folder (the Node
// 24 that setup.sh unpacks sits in root's home, which ordinary users cannot enter).
export function nodeForOtherUsers(): string {
  const own = process.execPath
  let reachable = (statSync(own).mode & 0o005) === 0o005
  for (let dir = dirname(own); reachable && dir !== dirname(dir); dir = dirname(dir)) reachable = (statSync(dir).mode & 0o001) !== 0
  if (reachable) return own
  const copy = join(tmpdir(), `vitest-qemu-node-${process.version}`, 'node')
  if (!existsSync(copy)) {
    mkdirSync(dirname(copy), { recursive: true, mode: 0o755 })
    chmodSync(dirname(copy), 0o755)
    copyFileSync(own, `${copy}.${process.pid}`)
    chmodSync(`${copy}.${process.pid}`, 0o755)
    renameSync(`${copy}.${process.pid}`, copy)
  }
  accessSync(copy, constants.X_OK)
  return copy
}
