import { homedir } from 'node:os'
import { join } from 'node:path'

/** Where built default images live: shared by every checkout and run of this user. */
export function cacheDir(configured?: string): string {
  return configured ?? process.env.VITEST_QEMU_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vitest-qemu')
}
