import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { info } from '../common/log.js'
import { isNotFound, privateDirProblem } from './private-path.js'

// The runtime root: one folder per user that holds the runs' folders (sockets live
// under a short path, as unix socket paths are limited to 107 bytes). What is read back
// from it decides what is removed and undone, so it is used only when it is private:
// made by this user with mode 0700, or, when it exists, a real folder (no symlink)
// owned by this user with no access for group or others. Anything else (a folder another
// user made first in /tmp, a symlink) is not touched: the run gets a fresh private
// folder instead, and a one-line warning says why.

export function newRunId(): string {
  return randomBytes(4).toString('hex')
}

/** Where the runtime root is meant to be: VITEST_QEMU_RUNTIME_DIR, /run/vitest-qemu for root, else under XDG_RUNTIME_DIR or the temp folder. */
export function configuredRuntimeRoot(uid: number | string = process.getuid?.() ?? 'user'): string {
  if (process.env.VITEST_QEMU_RUNTIME_DIR) return process.env.VITEST_QEMU_RUNTIME_DIR
  if (uid === 0) return '/run/vitest-qemu'
  // An empty XDG_RUNTIME_DIR is unset (it would make a relative path).
  return join(process.env.XDG_RUNTIME_DIR || tmpdir(), `vitest-qemu-${uid}`)
}

/** Why `path` cannot serve as the runtime root; undefined when it can. Missing counts as a problem. */
export function runtimeRootProblem(path: string): string | undefined {
  try {
    return privateDirProblem(path)
  } catch (error) {
    return isNotFound(error) ? `${path} does not exist` : `${path}: ${(error as Error).message}`
  }
}

const chosen = new Map<string, string>()

/** The runtime root for a new run: the configured one, made private if missing, or, when it is not private, a fresh private folder. */
export function runtimeRoot(): string {
  const configured = configuredRuntimeRoot()
  const known = chosen.get(configured)
  if (known) return known
  try {
    mkdirSync(configured, { mode: 0o700 })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // A parent that is missing is made for it (the parents are not the root, the folder is).
    if (code === 'ENOENT') {
      try {
        mkdirSync(join(configured, '..'), { recursive: true, mode: 0o700 })
        mkdirSync(configured, { mode: 0o700 })
      } catch {
        // judged below
      }
    }
  }
  const problem = runtimeRootProblem(configured)
  let root = configured
  if (problem) {
    root = mkdtempSync(join(tmpdir(), `vitest-qemu-${process.getuid?.() ?? 'user'}-`))
    info(`the runtime root is not private (${problem}); this run uses ${root} instead`)
    // Processes started from here (workers, `up`'s hints) find the run where it is.
    process.env.VITEST_QEMU_RUNTIME_DIR = root
    chosen.set(root, root)
  }
  chosen.set(configured, root)
  return root
}

/**
 * The runtime root for those who only look into it (`cleanup`, `console`, `ssh`): the
 * configured one when it exists and is private; undefined when it is missing, and also,
 * with a warning, when it is not private (nothing in it can be trusted).
 */
export function existingRuntimeRoot(warn: (message: string) => void = info): string | undefined {
  const configured = configuredRuntimeRoot()
  const problem = runtimeRootProblem(configured)
  if (!problem) return configured
  if (!problem.endsWith('does not exist')) warn(`ignoring the runtime root: ${problem}`)
  return undefined
}
