import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

// A lock between processes (two runs building the same image): a directory created
// atomically, holding the owner's pid so a lock left by a dead process is taken over.

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await mkdir(path)
      await writeFile(join(path, 'pid'), String(process.pid))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(await readFile(join(path, 'pid'), 'utf8').catch(() => 'NaN'))
      if (Number.isInteger(owner) && !alive(owner)) {
        await rm(path, { recursive: true, force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`vitest-qemu: timed out after ${timeoutMs / 1000} s waiting for the lock ${path} (held by pid ${owner})`)
      await sleep(250)
    }
  }
  try {
    return await fn()
  } finally {
    await rm(path, { recursive: true, force: true })
  }
}
