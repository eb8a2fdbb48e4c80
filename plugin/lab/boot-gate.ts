import { readFileSync } from 'node:fs'
import type { LabConfig } from '../config/config.js'

// The labs of several projects boot at once (Vitest runs their global setups one after
// the other, and each returns while its guests boot), but only while the machine has the
// memory: a lab waits while those still booting, with it, would take more than half of
// the memory available. The first lab never waits. Kept on globalThis: Node loads the
// global setup once per project, and every copy must see the same gate.

const GATE = Symbol.for('vitest-qemu:boot-gate')
/** Guest RAM when a guest sets none (lab-plan.ts: the default image's, an own kernel's), and QEMU's own share, in MiB. */
const DEFAULT_IMAGE_MIB = 128
const OWN_IMAGE_MIB = 256
const QEMU_OVERHEAD_MIB = 64

interface Gate {
  bootingMib: number
  waiting: (() => void)[]
}

function gate(): Gate {
  const holder = globalThis as { [GATE]?: Gate }
  return (holder[GATE] ??= { bootingMib: 0, waiting: [] })
}

/** What a lab's guests take while they boot, in MiB (an estimate from the config). */
export function labMemoryMib(config: LabConfig): number {
  return Object.values(config.guests ?? {}).reduce((sum, guest) => sum + (typeof guest?.memory === 'number' ? guest.memory : guest?.kernel === undefined ? DEFAULT_IMAGE_MIB : OWN_IMAGE_MIB) + QEMU_OVERHEAD_MIB, 0)
}

export function memAvailableMib(): number {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  return match ? Number(match[1]) / 1024 : Number.POSITIVE_INFINITY
}

/**
 * Waits until the lab may boot; `release()` once its boot is over (ready or failed).
 * `available`: the host's MemAvailable now, which labs still booting have not all taken yet.
 */
export async function admitBoot(config: LabConfig, available: () => number = memAvailableMib): Promise<{ release(): void }> {
  const state = gate()
  const need = labMemoryMib(config)
  // Memory already taken by labs still booting is no longer available: count it once.
  while (state.bootingMib > 0 && state.bootingMib + need > (available() + state.bootingMib) / 2) {
    await new Promise<void>((resolve) => state.waiting.push(resolve))
  }
  state.bootingMib += need
  let released = false
  return {
    release() {
      if (released) return
      released = true
      state.bootingMib -= need
      for (const wake of state.waiting.splice(0)) wake()
    },
  }
}
