import { createHash } from 'node:crypto'
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomically } from '../common/write-atomically.js'
import { runCommand } from '../common/run-command.js'

// SHA-256 of the files that define a snapshotted guest (a kernel is 50 MiB) and of the
// snapshots' states (60 MB), and the version a QEMU binary prints, remembered in the cache
// across runs while the file's identity stays the same: path, inode, size, and its change
// time, which every write moves and no tool can set back.

interface Entry {
  ino: number
  size: number
  ctimeMs: number
  /** What was learnt of the file while it was this file: its `sha256`, a binary's `version`. */
  facts: Record<string, string>
}

const memos = new Map<string, Record<string, Entry>>()

function memoOf(file: string): Record<string, Entry> {
  let memo = memos.get(file)
  if (!memo) {
    try {
      memo = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Entry>
    } catch {
      memo = {} // none yet, or unreadable: learnt again
    }
    memos.set(file, memo)
  }
  return memo
}

/** Files from this size on are hashed by coreutils' sha256sum, on a core of its own: two guests' 128 MB memory files at once, not one after the other. */
const LARGE_FILE = 16 << 20

export async function sha256OfFile(path: string): Promise<string> {
  if ((await stat(path)).size >= LARGE_FILE) {
    // Where sha256sum is missing or fails, this process hashes the file after all.
    const result = await runCommand('sha256sum', ['--', path], { reject: false, timeout: 600_000 }).catch(() => undefined)
    const hex = result?.exitCode === 0 ? result.stdout.split(' ')[0] : undefined
    if (hex && /^[0-9a-f]{64}$/.test(hex)) return hex
  }
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The file's SHA-256 (hex); `cache` keeps it for later runs. */
export function fileHash(path: string, cache: string): Promise<string> {
  return fileFact(path, cache, 'sha256', () => sha256OfFile(path))
}

/** Records the SHA-256 its writer has just taken of a file (a snapshot's state), so that its first reader need not hash it again. */
export async function rememberFileHash(path: string, cache: string, sha256: string): Promise<void> {
  await fileFact(path, cache, 'sha256', async () => sha256)
}

/** A fact about the file (`learn` finds it out), kept in `cache` until the file changes. */
export async function fileFact(path: string, cache: string, fact: string, learn: () => Promise<string>): Promise<string> {
  const memoFile = join(cache, 'file-hashes.json')
  const info = await stat(path)
  const sameFile = (entry: Entry | undefined): entry is Entry =>
    entry !== undefined && entry.ino === info.ino && entry.size === info.size && entry.ctimeMs === info.ctimeMs && typeof entry.facts === 'object'
  const knownIn = (memo: Record<string, Entry>) => {
    const entry = memo[path]
    return sameFile(entry) && typeof entry.facts[fact] === 'string' ? entry.facts[fact] : undefined
  }
  // This process's copy first; else the file's content now: another process (the supervisor
  // that saved a snapshot, another run) may have learnt it since this one read the memo.
  const known = knownIn(memoOf(memoFile)) ?? knownIn(reloadMemo(memoFile))
  if (known !== undefined) return known
  const value = await learn()
  // Added to the memo as it is now, so that what others wrote meanwhile stays.
  const memo = reloadMemo(memoFile)
  const current = memo[path]
  const entry = sameFile(current) ? current : (memo[path] = { ino: info.ino, size: info.size, ctimeMs: info.ctimeMs, facts: {} })
  entry.facts[fact] = value
  // Files that are gone (snapshots pruned or replaced) are forgotten.
  for (const known of Object.keys(memo)) if (!existsSync(known)) delete memo[known]
  // Two writers at the same moment: the last one wins, and the other's fact is only learnt again.
  await writeFileAtomically(memoFile, JSON.stringify(memo)).catch(() => {})
  return value
}

function reloadMemo(file: string): Record<string, Entry> {
  memos.delete(file)
  return memoOf(file)
}
