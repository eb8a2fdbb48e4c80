import { renameSync, writeFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Drafts of one process are told apart too: two writes of one file at once must not share one. */
let drafts = 0

/**
 * Writes a file aside and renames it into place (its folder made if missing): a reader,
 * in this run or a concurrent one, sees the whole old file or the whole new one.
 */
export async function writeFileAtomically(path: string, data: string, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const draft = `${path}.${process.pid}.${++drafts}.tmp`
  await writeFile(draft, data, mode === undefined ? undefined : { mode })
  await rename(draft, path)
}

/**
 * The same, synchronously, for what must be on disk before the next step (an undo
 * journal's intent) or at exit; the folder must exist (a removed one is not made again).
 */
export function writeFileAtomicallySync(path: string, data: string, mode?: number): void {
  const draft = `${path}.${process.pid}.${++drafts}.tmp`
  writeFileSync(draft, data, mode === undefined ? undefined : { mode })
  renameSync(draft, path)
}
