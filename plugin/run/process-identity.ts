import { readFileSync } from 'node:fs'

// Which process owns a run, in a form that survives pid reuse: its pid, its start time
// (field 22 of /proc/PID/stat, clock ticks since boot) and the boot it started in.
// A pid is reused only by a process that starts later, and the start time is fixed for
// a process's life (exec keeps it), so the three together name one process: if a
// process with that pid and that start time exists in the same boot, it is the owner;
// if not, the owner is dead and can never come back. No lock file is needed, and
// nothing has to be held open for the run's life.

export interface ProcessIdentity {
  pid: number
  /** Clock ticks since boot, from /proc/PID/stat. */
  startTime: number
  /** /proc/sys/kernel/random/boot_id when the identity was taken. */
  bootId: string
}

export function currentBootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
}

/** The start time of `pid`, or undefined when there is no such process. */
export function startTimeOf(pid: number): number | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); field 22 is fields[19].
  const startTime = Number(fields[19])
  return Number.isInteger(startTime) ? startTime : undefined
}

/** The identity of a running process; undefined when it has already ended. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const startTime = startTimeOf(pid)
  return startTime === undefined ? undefined : { pid, startTime, bootId: currentBootId() }
}

/** Whether the very process `identity` names still runs (a zombie counts as ended). */
export function isRunning(identity: ProcessIdentity): boolean {
  if (identity.bootId !== currentBootId()) return false
  if (startTimeOf(identity.pid) !== identity.startTime) return false
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${identity.pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

export function isProcessIdentity(value: unknown): value is ProcessIdentity {
  const identity = value as ProcessIdentity
  return (
    typeof identity === 'object' &&
    identity !== null &&
    Number.isInteger(identity.pid) &&
    identity.pid > 0 &&
    Number.isInteger(identity.startTime) &&
    identity.startTime >= 0 &&
    typeof identity.bootId === 'string' &&
    /^[0-9a-f-]{36}$/.test(identity.bootId)
  )
}
