import { existsSync, type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { writeFileAtomically } from '../common/write-atomically.js'
import type { LabDescriptor } from './lab-descriptor.js'

// How workers learn that the lab their global setup started is ready. Global setup returns
// while the guests boot, so that Vitest starts its workers meanwhile and the labs of
// several projects boot at once; it writes the boot's outcome to a file in the run's
// folder, which a worker waits for before its first test file runs. A boot that failed
// fails every test file with the boot's error, and runs no test.

export interface LabReadiness {
  /** Where the outcome is written. */
  file: string
  /** Epoch ms after which a worker stops waiting (the boot's own timeouts end it well before). */
  by: number
}

export type LabOutcome = { ready: LabDescriptor } | { failed: string }

export function writeLabOutcome(file: string, outcome: LabOutcome): Promise<void> {
  return writeFileAtomically(file, JSON.stringify(outcome), 0o600)
}

/**
 * The ready lab's descriptor; rejects with the boot's error, or when nothing came by `by`.
 * The file's folder is watched, so the worker goes on as the outcome is written (a lab's
 * second run often waits for nothing else); every `pollMs` it looks anyway, where a file
 * system tells no watcher.
 */
export async function waitForLabOutcome(readiness: LabReadiness, pollMs = 100): Promise<LabDescriptor> {
  if (!existsSync(readiness.file)) await appearance(readiness, pollMs)
  const outcome = JSON.parse(await readFile(readiness.file, 'utf8')) as LabOutcome
  if ('failed' in outcome) throw new Error(outcome.failed)
  return outcome.ready
}

function appearance({ file, by }: LabReadiness, pollMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined
    const end = (error?: Error) => {
      clearInterval(timer)
      watcher?.close()
      if (error) reject(error)
      else resolve()
    }
    const look = () => {
      if (existsSync(file)) end()
      else if (Date.now() > by) end(new Error(`vitest-qemu: the lab was still not ready at ${new Date(by).toISOString()} (nothing in ${file})`))
    }
    const timer = setInterval(look, pollMs)
    try {
      watcher = watch(dirname(file), (_event, name) => {
        if (!name || name === basename(file)) look()
      })
      watcher.on('error', () => {})
    } catch {
      // No watcher here (the folder's file system or the host's limits): the looks every pollMs do.
    }
    // Written between the first look and the watcher's start: seen now.
    look()
  })
}
