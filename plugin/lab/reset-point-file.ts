import { join } from 'node:path'
import { runCommand } from '../common/run-command.js'
import { info } from '../common/log.js'
import { which } from '../common/which.js'

// A resettable guest keeps its state right after boot as an internal snapshot of a small
// qcow2 file that no device uses: `savevm` writes it once, and each reset is a `loadvm` in
// the running QEMU, not a new QEMU loading a saved state (with its start and its sockets).
// qemu-img makes the file; without it, or should it fail, resets start a new QEMU.

/** The empty qcow2 for the guest's reset point in `dir`, or undefined when qemu-img is missing or fails. */
export async function createResetPointFile(guest: string, dir: string): Promise<string | undefined> {
  if (!which('qemu-img')) return undefined
  const path = join(dir, 'reset-point.qcow2')
  try {
    // Only the internal snapshot is ever written: the disk itself is never read.
    await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', path, '1M'], { timeout: 10_000 })
    return path
  } catch (error) {
    info(`${guest}: each reset starts a new QEMU (${(error as Error).message.split('\n')[0]})`)
    return undefined
  }
}
