import type { LabPlan } from '../config/lab-plan.js'
import type { QemuLaunch } from '../qemu/qemu-args.js'

// Messages between the test process and its supervisor: JSON lines on the
// supervisor's stdin (commands) and on a pipe of their own, fd 3 (events). Closing
// stdin means "die now". The supervisor's stdout carries nothing the protocol needs.

/** The supervisor's file descriptor for events (stdio index 3 of its spawn). */
export const EVENTS_FD = 3

/** Boot stages; a restored guest goes qemu → restore → shell instead. */
export type Stage = 'qemu' | 'console' | 'restore' | 'shell' | 'ssh'

export interface GuestFiles {
  dir: string
  serialSocket: string
  qmpSocket: string
  /** The guest agent's ports (default images only). */
  agent?: { commandSocket: string; controlSocket: string }
  forwardSocket: string
  /** The console for an interactive terminal (see console-attach-server.ts). */
  consoleSocket: string
  transcript: string
  qemuLog: string
}

export interface GuestSnapshotSetup {
  key: string
  /** The snapshot's folder; restored from when `restore`, else saved to after a cold boot. */
  dir: string
  restore: boolean
  /** The guest's memory is saved as a file of its own beside the state (qemu-args.ts, guest-snapshot.ts). */
  ram: boolean
}

export interface SupervisorStart {
  type: 'start'
  plan: LabPlan
  runDir: string
  controlSocket: string
  guests: Record<string, { files: GuestFiles; launch: QemuLaunch; snapshot?: GuestSnapshotSetup }>
  /** Private key (OpenSSH format) the default image trusts. */
  privateKey: string
  runId: string
  /** The run's log folder: transcripts, QEMU logs, packet captures. */
  logDir: string
  /** Keep a saved state of every guest so that `reset` can bring it back (watch mode, per-file isolation). */
  resettable: boolean
}

export type SupervisorCommand =
  | SupervisorStart
  | { type: 'stop' }
  /** `ifUsed`: only if a guest was used since the last reset (else it answers at once, 0 ms). */
  | { type: 'reset'; ifUsed?: boolean }
  /** The test process checked a restored guest's snapshot (while QEMU loads it): the guest runs only if `problem` is absent. */
  | { type: 'snapshot-checked'; guest: string; problem?: string }

export type SupervisorEvent =
  /** Every guest's QEMU has been started (the test process's global setup may return). */
  | { type: 'launched' }
  | { type: 'progress'; guest: string; stage: Stage; elapsedMs: number }
  | { type: 'guest-ready'; guest: string; stageMs: Partial<Record<Stage, number>>; pid: number; booted: 'cold' | 'restored' }
  | { type: 'notice'; message: string }
  | { type: 'snapshot-saved'; guest: string; elapsedMs: number }
  | { type: 'failed'; message: string }
  | { type: 'ready'; captures: { bridge: string; path: string }[] }
  | { type: 'stopped' }
  | { type: 'reset-started' }
  | { type: 'reset-done'; ms: number; error?: string }
