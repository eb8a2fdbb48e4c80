import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs'

// What vitest-qemu reads back from its runtime folders (a ledger, an undo journal, a
// published lab) decides what it removes and undoes, so it is trusted only when no one
// else could have written it: a real folder or file (never a symlink) owned by this
// user, with no access for group or others.

function uid(): number {
  return process.getuid?.() ?? -1
}

/** Why `path` is not a private folder of this user; undefined when it is. Throws ENOENT when it does not exist. */
export function privateDirProblem(path: string): string | undefined {
  const stat = lstatSync(path)
  if (stat.isSymbolicLink()) return `${path} is a symbolic link`
  if (!stat.isDirectory()) return `${path} is not a folder`
  if (stat.uid !== uid()) return `${path} belongs to uid ${stat.uid}, not to this user (uid ${uid()})`
  if ((stat.mode & 0o077) !== 0) return `${path} has mode ${(stat.mode & 0o777).toString(8)}; only its owner may have access (0700)`
  return undefined
}

/**
 * The text of a private file of this user; throws (ENOENT when it does not exist) when
 * it is missing, a symlink, not a regular file, someone else's, or open to group or others.
 * Opened without following a symlink and checked on the open descriptor, so it cannot be
 * swapped between the check and the read.
 */
export function readPrivateFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`)
    if (stat.uid !== uid()) throw new Error(`${path} belongs to uid ${stat.uid}, not to this user`)
    if ((stat.mode & 0o077) !== 0) throw new Error(`${path} has mode ${(stat.mode & 0o777).toString(8)}; only its owner may have access`)
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

export function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
