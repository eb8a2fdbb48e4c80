import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { openBridgeForwarding } from './docker-trap.js'
import type { Server } from 'node:net'
import { createLabNetwork, networkUndo } from './lab-network.js'
import { writeUndo } from './sweep.js'
import { GuestProcess, type StageTimeouts } from './guest-process.js'
import { bringToPresent, saveGuestState } from './guest-snapshot.js'
import { commitSnapshot, newSnapshotDraft, statePath } from './snapshot-store.js'
import { readJsonLines } from './json-lines.js'
import { PacketCaptures } from './packet-capture.js'
import { serveControl, serveForwarding } from './control-server.js'
import type { GuestFiles, GuestSnapshotSetup, Stage, SupervisorCommand, SupervisorEvent, SupervisorStart } from './supervisor-protocol.js'
import type { GuestPlan } from './lab-plan.js'
import type { QemuLaunch } from './qemu-args.js'
import { serveConsoleAttach } from './console-attach-server.js'

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
  captures = new PacketCaptures(command.logDir)
  servers.push(serveControl(command.controlSocket, guests, undo, captures))
  const results = await Promise.allSettled(
    plan.guests.map(async (guestPlan) => {
      const setup = command.guests[guestPlan.name]!
      const guest = await bootGuest(guestPlan, setup.files, setup.launch, setup.snapshot, plan.timeoutMultiplier, command.privateKey)
      servers.push(serveForwarding(guest.files.forwardSocket, guest.plan.nics[0]!.ip))
      servers.push(serveConsoleAttach(guest.files.consoleSocket, guest.console))
      emit({ type: 'guest-ready', guest: guest.plan.name, stageMs: guest.stageMs, pid: guest.pid, booted: guest.restoring ? 'restored' : 'cold' })
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

/**
 * Brings one guest up: restored from its snapshot when there is one (and, should that
 * fail, booted cold after all, the snapshot deleted), else booted cold and, when
 * snapshots are on, saved once its shell answers.
 */
async function bootGuest(
  plan: GuestPlan,
  files: GuestFiles,
  launch: QemuLaunch,
  snapshot: GuestSnapshotSetup | undefined,
  multiplier: number,
  privateKey: string,
): Promise<GuestProcess> {
  const boot = plan.bootTimeout
  const timeouts: StageTimeouts = { qemu: 10_000 * multiplier, console: boot, restore: 20_000 * multiplier, shell: boot, ssh: boot }
  const onStage = (stage: Stage, elapsedMs: number) => emit({ type: 'progress', guest: plan.name, stage, elapsedMs })
  if (snapshot?.restore) {
    const restored = new GuestProcess(plan, files, { ...launch, incoming: statePath(snapshot.dir) })
    guests.set(plan.name, restored)
    restored.start()
    try {
      await restored.waitReady({ ...timeouts, shell: Math.min(boot, 20_000 * multiplier) }, privateKey, { onStage })
      return restored
    } catch (error) {
      if (stopping) throw error
      emit({ type: 'notice', message: `${plan.name}: its snapshot could not be restored, so it boots cold and a new snapshot replaces it (${firstLine(error)})` })
      await restored.stop()
      rmSync(snapshot.dir, { recursive: true, force: true })
    }
  }
  const guest = new GuestProcess(plan, files, launch)
  guests.set(plan.name, guest)
  guest.start()
  const afterShell = snapshot ? () => saveSnapshot(guest, snapshot, timeouts.restore) : undefined
  await guest.waitReady(timeouts, privateKey, { onStage, afterShell })
  return guest
}

/** Saves a freshly booted guest for later runs; a failure costs only the snapshot. */
async function saveSnapshot(guest: GuestProcess, snapshot: GuestSnapshotSetup, timeoutMs: number): Promise<void> {
  const started = Date.now()
  let draft: string | undefined
  try {
    draft = await newSnapshotDraft(snapshot.dir)
    await saveGuestState(guest.qmp, statePath(draft), Date.now() + timeoutMs)
    await bringToPresent(guest.console, timeoutMs)
    await commitSnapshot(draft, snapshot.dir, guest.plan.name, snapshot.key)
    emit({ type: 'snapshot-saved', guest: guest.plan.name, elapsedMs: Date.now() - started })
  } catch (error) {
    if (draft) rmSync(draft, { recursive: true, force: true })
    emit({ type: 'notice', message: `${guest.plan.name}: its booted state could not be saved; later runs boot it cold (${firstLine(error)})` })
  }
}

function firstLine(error: unknown): string {
  return String((error as Error).message ?? error).split('\n')[0]!
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
