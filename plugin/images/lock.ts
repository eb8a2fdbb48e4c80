import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { info } from '../common/log.js'

// A lock between processes (two runs building the same image): a directory created
// atomically, holding the owner's pid. A lock whose owner is dead, or that names no owner
// (a pid never written: a full disk, a crash right after the mkdir) and is older than a
// grace period, is taken over at once, with a note: moved aside by an atomic rename, so
// that of several waiters that judged it stale only one takes it.

/** How long a lock may stand without its pid before it is judged ownerless. */
const OWNERLESS_GRACE_MS = 10_000

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function ownerOf(path: string): Promise<number | undefined> {
  const text = await readFile(join(path, 'pid'), 'utf8').catch(() => '')
  const pid = Number(text.trim())
  return text.trim() !== '' && Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/** Why the lock at `path` can be taken over now, or undefined while its owner may still be at work. */
async function staleness(path: string): Promise<{ reason: string; owner?: number } | undefined> {
  const owner = await ownerOf(path)
  if (owner !== undefined) return alive(owner) ? undefined : { reason: `its owner, pid ${owner}, is gone`, owner }
  const age = await stat(path).then((info) => Date.now() - info.mtimeMs, () => 0)
  return age > OWNERLESS_GRACE_MS ? { reason: `it names no owner (${Math.round(age / 1000)} s old)` } : undefined
}

export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await mkdir(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const stale = await staleness(path)
      if (stale) {
        const aside = `${path}.stale-${process.pid}-${randomBytes(3).toString('hex')}`
        const moved = await rename(path, aside).then(() => true, () => false)
        if (moved) {
          // Another waiter may have taken it over and locked anew since we looked: then it is theirs.
          if ((await ownerOf(aside)) !== stale.owner) await rename(aside, path).catch(() => {})
          else info(`took over the lock ${path}: ${stale.reason}`)
          await rm(aside, { recursive: true, force: true })
        }
        continue
      }
      if (Date.now() > deadline) throw new Error(`vitest-qemu: timed out after ${timeoutMs / 1000} s waiting for the lock ${path} (held by pid ${(await ownerOf(path)) ?? 'unknown'})`)
      await sleep(250)
      continue
    }
    try {
      await writeFile(join(path, 'pid'), String(process.pid))
    } catch (error) {
      await rm(path, { recursive: true, force: true })
      throw error
    }
    break
  }
  try {
    return await fn()
  } finally {
    await rm(path, { recursive: true, force: true })
  }
}
