import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Starting the supervisor process. Node takes a tenth of a second to start it, on the way
// to the first QEMU; so the Vitest plugin starts one for its project as soon as Vitest has
// set the project up, and the project's global setup, later, takes that one over (the key:
// the project). One that no lab takes (a `vitest list`, a run that finds no test file)
// holds no event loop, and ends when its pipe closes with the Vitest process, or after a
// minute unused. Kept on globalThis: the plugin and the global setup may be separate
// copies of this module.

const SUPERVISOR = fileURLToPath(new URL('../supervisor/supervisor.js', import.meta.url))
const UNUSED_MS = 60_000

type Network = 'namespace' | 'host'
const POOL = Symbol.for('vitest-qemu:started-supervisors')

interface Started {
  child: ChildProcess
  network: Network
  key: object
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

/** Starts a supervisor for the lab that will start soon in this process under `key`. */
export function startSupervisorAhead(network: Network, key: object, spawnChild = spawnSupervisor): ChildProcess {
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
  const at = entries.findIndex((entry) => entry.key === key && entry.network === network && entry.child.exitCode === null && entry.child.signalCode === null && entry.child.pid !== undefined)
  if (at < 0) return spawnChild(network)
  const [entry] = entries.splice(at, 1)
  clearTimeout(entry!.timer)
  holdsProcess(entry!.child, true)
  return entry!.child
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
