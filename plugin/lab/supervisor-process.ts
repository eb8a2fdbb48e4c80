import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Starting the supervisor process. Node takes a tenth of a second to start it, on the way
// to the first QEMU; so the Vitest plugin starts one as soon as Vitest loads the config,
// gives it to the first project with a lab that Vitest sets up (the others get their own
// then), and the project's global setup, later, takes that one over (the key: the project).
// One that no lab takes (a `vitest list`, a run that finds no test file, a filter that
// leaves every lab project out) holds no event loop, and ends when its pipe closes with the
// Vitest process, or after a minute unused. Kept on globalThis: the plugin and the global setup may be separate
// copies of this module.

const SUPERVISOR = fileURLToPath(new URL('../supervisor/supervisor.js', import.meta.url))
const UNUSED_MS = 60_000

type Network = 'namespace' | 'host'
const POOL = Symbol.for('vitest-qemu:started-supervisors')

interface Started {
  child: ChildProcess
  network: Network
  key: object | symbol
  timer: NodeJS.Timeout
}

function pool(): Started[] {
  const holder = globalThis as { [POOL]?: Started[] }
  return (holder[POOL] ??= [])
}

export function spawnSupervisor(network: Network): ChildProcess {
  // detached: its own process group, so a Ctrl-C in the terminal reaches Vitest, and the
  // supervisor learns of it from its closed stdin, not from a signal.
  // stdio 3 (EVENTS_FD): the events' own pipe; stdout is only shown (supervisor-events.ts).
  const options = { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] as ('pipe' | 'inherit')[], detached: true }
  const child =
    network === 'host'
      ? spawn(process.execPath, [SUPERVISOR], options)
      : // A fresh network namespace; without root, a user namespace around it (no sudo needed).
        spawn('unshare', [...(process.getuid?.() !== 0 ? ['--user', '--map-root-user', '--net'] : ['--net']), '--', process.execPath, SUPERVISOR], options)
  // Writing to a supervisor that has already exited fails with EPIPE; its exit says why.
  child.stdin!.on('error', () => {})
  // A spawn that fails (no unshare) is told by the lab that takes it; never thrown here.
  child.on('error', () => {})
  return child
}

/** The key of a supervisor started before Vitest knows which projects run (startSupervisorEarly). */
const EARLY = Symbol.for('vitest-qemu:early-supervisor')

/**
 * Starts one supervisor as soon as Vitest loads a config with a lab (the plugin's config
 * hook), a twentieth of a second before Vitest sets the projects up, on the core Vitest's
 * own start leaves idle: the first project with a lab of this network mode that Vitest
 * sets up takes it (startSupervisorAhead). Vitest loads the configs of projects that a
 * filter then leaves out too, so at most one waits per network mode.
 */
export function startSupervisorEarly(network: Network, spawnChild = spawnSupervisor): void {
  if (pool().some((entry) => entry.key === EARLY && entry.network === network && alive(entry.child))) return
  spawnAhead(network, EARLY, spawnChild)
}

/** Starts a supervisor for the lab that will start soon in this process under `key` (or gives it the one started early). */
export function startSupervisorAhead(network: Network, key: object, spawnChild = spawnSupervisor): ChildProcess {
  const early = pool().find((entry) => entry.key === EARLY && entry.network === network && alive(entry.child))
  if (early) {
    early.key = key
    return early.child
  }
  return spawnAhead(network, key, spawnChild)
}

function spawnAhead(network: Network, key: object | symbol, spawnChild: (network: Network) => ChildProcess): ChildProcess {
  const child = spawnChild(network)
  // Unused, it must not keep this process alive (a `vitest run` of another project would
  // wait for it): the pipe's end at this process's exit ends it.
  holdsProcess(child, false)
  const entry: Started = { child, network, key, timer: setTimeout(() => child.kill('SIGKILL'), UNUSED_MS).unref() }
  child.once('exit', () => {
    clearTimeout(entry.timer)
    const at = pool().indexOf(entry)
    if (at >= 0) pool().splice(at, 1)
  })
  pool().push(entry)
  return child
}

/** The supervisor started ahead under `key` for this network mode, if still alive; else a new one. */
export function takeSupervisor(network: Network, key?: object, spawnChild = spawnSupervisor): ChildProcess {
  const entries = pool()
  const at = entries.findIndex((entry) => entry.key === key && entry.network === network && alive(entry.child))
  if (at < 0) return spawnChild(network)
  const [entry] = entries.splice(at, 1)
  clearTimeout(entry!.timer)
  holdsProcess(entry!.child, true)
  return entry!.child
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined
}

/** Whether the child and its pipes keep this process's event loop alive. */
function holdsProcess(child: ChildProcess, hold: boolean): void {
  if (hold) child.ref()
  else child.unref()
  for (const stream of child.stdio) {
    const socket = stream as { ref?: () => void; unref?: () => void } | null
    if (hold) socket?.ref?.()
    else socket?.unref?.()
  }
}
