import { readFileSync, writeFileSync } from 'node:fs'

// While guests boot, are restored or reset, the test waits for them and nothing else:
// the lab's processes then run ahead of Vitest's. Linux schedules each session as one
// group (autogroup) and shares the CPU between groups before a process's own nice
// counts, so QEMU's nice does nothing against Vitest's workers starting beside it (they
// are another session: the supervisor starts detached). Its session's group nice does:
// at -5, on two cores, second runs of the seed lab took 1.40-1.48 s against 1.49-1.56 s
// at 0 in three of five alternating comparisons (8-10 pairs each), the same in the other
// two; cold runs, where Vitest's worker then starts about when the guests are ready, came
// out within the noise. A nice below 0 needs the privilege to raise a priority (root);
// without it, or without autogroups, nothing changes.

const RAISED_NICE = -5
const AUTOGROUP = '/proc/self/autogroup'
const AUTOGROUP_ENABLED = '/proc/sys/kernel/sched_autogroup_enabled'

export interface PriorityFiles {
  read(path: string): string
  write(path: string, text: string): void
}

const realFiles: PriorityFiles = { read: (path) => readFileSync(path, 'utf8'), write: (path, text) => writeFileSync(path, text) }

/** Holds the raised priority while any boot or reset is under way; back to normal when the last ends. */
export class BootPriority {
  private holders = 0
  /** Known once tried: false where the kernel has no autogroups or the process lacks the privilege. */
  private possible: boolean | undefined

  constructor(private readonly files: PriorityFiles = realFiles) {}

  /** Raises the priority (if it is not already raised) until the returned function is called. */
  hold(): () => void {
    if (this.holders++ === 0) this.set(RAISED_NICE)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.holders === 0) this.set(0)
    }
  }

  private set(nice: number): void {
    if (this.possible === false) return
    try {
      if (this.possible === undefined && this.files.read(AUTOGROUP_ENABLED).trim() !== '1') {
        this.possible = false
        return
      }
      this.files.write(AUTOGROUP, String(nice))
      this.possible = true
    } catch (error) {
      // Without CAP_SYS_ADMIN the kernel takes one change a tenth of a second: the way back is tried again.
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        if (nice === 0) setTimeout(() => this.holders === 0 && this.set(0), 110).unref()
        return
      }
      // EPERM (no privilege), ENOENT (no autogroups in this kernel): the run goes on at the normal priority.
      if (nice !== 0) this.possible = false
    }
  }
}
