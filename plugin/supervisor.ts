import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { openBridgeForwarding } from './docker-trap.js'
import type { Server } from 'node:net'
import { createLabNetwork, networkUndo } from './lab-network.js'
import { writeUndo } from './sweep.js'
import { GuestProcess } from './guest-process.js'
import { readJsonLines } from './json-lines.js'
import { PacketCaptures } from './packet-capture.js'
import { serveControl, serveForwarding } from './control-server.js'
import { serveConsoleAttach } from './console-attach-server.js'
import type { SupervisorCommand, SupervisorEvent, SupervisorStart } from './supervisor-protocol.js'

// The supervisor: one process per run, started inside the lab's private network
// namespace, in its own process group. It owns the bridges, the taps, every QEMU and
// every channel that only one client may hold. When its stdin closes (the test
// process ended, however it ended) it kills everything at once and exits, and the
// namespace disappears with the last of its processes.

const guests = new Map<string, GuestProcess>()
const servers: Server[] = []
let stopping = false
let runDir: string | undefined
let captures: PacketCaptures | undefined
/** Commands that undo what this run changed on the host (host mode only). */
let undo: string[][] = []

function runUndo(): void {
  for (const [command, ...args] of undo.splice(0)) spawnSync(command!, args, { stdio: 'ignore' })
}

function emit(event: SupervisorEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

/** The hard way out: everything dies now, and the run's sockets go with it. */
function killAll(): void {
  for (const guest of guests.values()) guest.kill()
  captures?.killAll()
  runUndo()
  if (runDir) rmSync(runDir, { recursive: true, force: true })
}

async function start(command: SupervisorStart): Promise<void> {
  const { plan } = command
  runDir = command.runDir
  // Written before anything is changed, so a sweep can undo it if this process is killed.
  undo = networkUndo(plan)
  writeUndo(command.runDir, undo)
  await createLabNetwork(plan)
  if (plan.network === 'host') {
    undo.push(...(await openBridgeForwarding(plan.bridges.map((bridge) => bridge.name), command.runId)))
    writeUndo(command.runDir, undo)
  }
  const multiplier = plan.timeoutMultiplier
  for (const guestPlan of plan.guests) {
    const setup = command.guests[guestPlan.name]!
    guests.set(guestPlan.name, new GuestProcess(guestPlan, setup.files, setup.launch))
  }
  captures = new PacketCaptures(command.logDir)
  servers.push(serveControl(command.controlSocket, guests, undo, captures))
  for (const guest of guests.values()) guest.start()
  const results = await Promise.allSettled(
    [...guests.values()].map(async (guest) => {
      const boot = guest.plan.bootTimeout
      await guest.waitReady(
        { qemu: 10_000 * multiplier, console: boot, shell: boot, ssh: boot },
        command.privateKey,
        (stage, elapsedMs) => emit({ type: 'progress', guest: guest.plan.name, stage, elapsedMs }),
      )
      servers.push(serveForwarding(guest.files.forwardSocket, guest.plan.nics[0]!.ip))
      servers.push(serveConsoleAttach(guest.files.consoleSocket, guest.console))
      emit({ type: 'guest-ready', guest: guest.plan.name, stageMs: guest.stageMs, pid: guest.pid })
    }),
  )
  const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failures.length > 0) {
    emit({ type: 'failed', message: failures.map((failure) => (failure.reason as Error).message).join('\n\n') })
    return
  }
  const runCaptures: { bridge: string; path: string }[] = []
  if (plan.capture) {
    for (const bridge of plan.bridges) runCaptures.push({ bridge: bridge.name, path: await captures!.start(`run-${bridge.name}`, bridge.name) })
  }
  emit({ type: 'ready', captures: runCaptures })
}

async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  for (const server of servers) server.close()
  await captures?.stopAll()
  await Promise.allSettled([...guests.values()].map((guest) => guest.stop()))
  runUndo()
  if (runDir) rmSync(runDir, { recursive: true, force: true })
  emit({ type: 'stopped' })
  process.exit(0)
}

readJsonLines<SupervisorCommand>(process.stdin, (command) => {
  if (command.type === 'start') start(command).catch((error: Error) => emit({ type: 'failed', message: error.message }))
  else if (command.type === 'stop') void stop()
})
process.stdin.on('end', () => {
  killAll()
  process.exit(0)
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop())
process.on('exit', killAll)
