import nodeModule from 'node:module'
import { join } from 'node:path'

// Node's module compile cache (V8's compiled code kept on disk, Node 22.1 and later) for the
// run's processes. A Vitest worker spends about a third of its start compiling Vitest's own
// modules, and a lab's second run waits for its worker as much as for its guests. Set as
// NODE_COMPILE_CACHE before Vitest starts its workers, so that they (and what they start)
// use it; Vitest itself turns it off for V8 coverage. A cache the user set, or
// NODE_DISABLE_COMPILE_CACHE, is left as it is. Node 20 ignores it.

// A default import: Node 20's node:module has no such export, and a named import would not load there.
const enableCompileCache = (nodeModule as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache

/** Turns the cache on in `dir` unless the environment says otherwise; returns the folder used, if any. */
export function useCompileCache(dir: string, env: NodeJS.ProcessEnv = process.env, enableHere: ((dir: string) => unknown) | undefined = enableCompileCache): string | undefined {
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return undefined
  env.NODE_COMPILE_CACHE = dir
  // This process's modules from now on too (Vitest loads much of itself as it goes).
  enableHere?.(dir)
  return dir
}

export function compileCacheDir(cache: string): string {
  return join(cache, 'node-compile-cache')
}
