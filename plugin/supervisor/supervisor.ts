import { existsSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { availableParallelism } from 'node:os'
import { openBridgeForwarding } from './docker-trap.js'
import type { Server, Socket } from 'node:net'
import { createLabNetwork } from './lab-network.js'
import { UndoJournal } from '../run/undo-journal.js'
import { undoAll } from '../run/undo-actions.js'
import { BootPriority } from './boot-priority.js'
import { GuestProcess, type StageTimeouts } from './guest-process.js'
import { bringToPresent, loadResetPoint, saveGuestState, saveResetPoint, waitForClosedConnections } from './guest-snapshot.js'
import { commitSnapshot, newSnapshotDraft, ramPath, statePath } from '../qemu/snapshot-store.js'
import { readJsonLines } from '../protocol/json-lines.js'
import { PacketCaptures } from './packet-capture.js'
import { type LabReset, serveControl, serveForwarding } from './control-server.js'
import { EVENTS_FD, type GuestFiles, type GuestSnapshotSetup, type Stage, type SupervisorCommand, type SupervisorEvent, type SupervisorStart } from '../protocol/supervisor-protocol.js'
import type { GuestPlan, NicPlan } from '../config/lab-plan.js'
import { DhcpServers } from './dhcp-server.js'
import type { QemuLaunch } from '../qemu/qemu-args.js'
import { serveConsoleAttach } from './console-attach-server.js'
import { MemoryFile, memoryFileDir } from './memory-file.js'

// The supervisor: one process per run, started inside the lab's private network
// namespace, in its own process group. It owns the bridges, the taps, every QEMU and
// every channel that only one client may hold. When its stdin closes (the test
// process ended, however it ended) it kills everything at once and exits, and the
// namespace disappears with the last of its processes.

const guests = new Map<string, GuestProcess>()
/** The lab's DHCP and DNS servers, one per bridge with `dhcp`. */
const dhcp = new DhcpServers()
const servers: Server[] = []
let stopping = false
let runDir: string | undefined
let captures: PacketCaptures | undefined
/** What this run changed outside its namespace (host mode), journaled in the run's folder before each change. */
let journal: UndoJournal | undefined

/** Undoes the journal; then, when all of it is undone, the run's folder goes. Else it stays, journal and all, for the test process or a sweep. */
function undoAndRemoveRunDir(): void {
  const left = journal ? undoAll(journal) : []
  if (left.length > 0) process.stderr.write(`vitest-qemu supervisor: could not undo ${left.map((record) => JSON.stringify(record)).join(', ')}; kept in ${runDir}\n`)
  else if (runDir) rmSync(runDir, { recursive: true, force: true })
}

/** A service that ends while the lab runs is told to the test process, with its last output. */
function serviceExitNotice(guest: string): (service: string, code: number, lastOutput: string) => void {
  return (service, code, lastOutput) => emit({ type: 'notice', message: `${guest}: service ${service} exited with ${code}; its last output:\n${lastOutput || '(none)'}` })
}

/** Events go on their own pipe, fd 3 (EVENTS_FD): a stray write to stdout, by us or a library, can never be taken for one. */
function emit(event: SupervisorEvent): void {
  const line = Buffer.from(`${JSON.stringify(event)}\n`)
  for (let written = 0; written < line.length; ) {
    try {
      written += writeSync(EVENTS_FD, line, written)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // EAGAIN: the pipe is full for a moment; anything else (EPIPE): the test process is gone.
      if (code !== 'EAGAIN') return
    }
  }
}

/** The hard way out: everything dies now, and the run's sockets go with it. */
function killAll(): void {
  for (const guest of guests.values()) guest.kill()
  dhcp.stopAll()
  captures?.killAll()
  undoAndRemoveRunDir()
}

async function start(command: SupervisorStart): Promise<void> {
  const release = bootPriority.hold()
  let outcome: BootOutcome
  try {
    outcome = await bootLab(command)
  } finally {
    release()
  }
  // Told once the priority is back to normal: the tests that start now run beside the lab as equals.
  emit(outcome)
}

type BootOutcome = Extract<SupervisorEvent, { type: 'ready' | 'failed' }>

async function bootLab(command: SupervisorStart): Promise<BootOutcome> {
  const { plan } = command
  warmUp = plan.guests.length <= availableParallelism()
  runDir = command.runDir
  // Each host change is journaled before it is made, so that whoever finds this process
  // killed (the test process, a sweep) can undo it.
  journal = new UndoJournal(command.runDir, command.runId)
  await createLabNetwork(plan, command.runId, journal)
  if (plan.network === 'host') await openBridgeForwarding(plan.bridges.map((bridge) => bridge.name), command.runId, journal)
  await dhcp.start(plan, command.runDir, command.logDir)
  captures = new PacketCaptures(command.logDir)
  const partitions = { runId: command.runId, journal: plan.network === 'host' ? journal : undefined }
  servers.push(serveControl(command.controlSocket, guests, partitions, captures, labReset, plan.bridges.map((bridge) => bridge.address)))
  const withMemoryFiles = plan.guests.filter((guest) => command.guests[guest.name]!.snapshot?.ram)
  memoryDir = memoryFileDir(withMemoryFiles.reduce((sum, guest) => sum + guest.memory * 2 ** 20, 0), command.runDir)
  const booting = plan.guests.map(async (guestPlan) => {
    const setup = command.guests[guestPlan.name]!
    const snapshot = setup.snapshot
    // A snapshot keeps the memory as a file of its own, so the guest's memory has the name a
    // memory file gets (qemu-args.ts) however it runs: booted to be saved, restored, or
    // restored from a full state saved in the run's folder.
    const launch: QemuLaunch = snapshot?.ram ? { ...setup.launch, ram: { shared: false } } : setup.launch
    const boot: GuestBoot = { plan: guestPlan, files: setup.files, launch, multiplier: plan.timeoutMultiplier, privateKey: command.privateKey }
    boots.set(guestPlan.name, boot)
    const onStage = (stage: Stage, elapsedMs: number) => emit({ type: 'progress', guest: guestPlan.name, stage, elapsedMs })
    const guest = await bootGuest(boot, {
      onStage,
      restoreFrom: snapshot?.restore ? savedSnapshot(snapshot) : undefined,
      // The test process checks the state's checksum while QEMU loads it; the guest runs only if it matches.
      restoreCheck: snapshot?.restore ? () => snapshotChecked(guestPlan.name) : undefined,
      onRestoreFailed: (reason) => {
        emit({ type: 'notice', message: `${guestPlan.name}: its snapshot could not be restored, so it boots cold and a new snapshot replaces it (${reason})` })
        rmSync(snapshot!.dir, { recursive: true, force: true })
      },
      afterColdBoot: snapshot ? (booted) => saveSnapshot(booted, snapshot, boot) : undefined,
      // Nothing to save after SSH: the lab is ready once the shell answers.
      sshInBackground: !snapshot && !command.resettable,
    })
    if (command.resettable) await keepResetPoint(guest, boot, snapshot)
    const sshPort = guestPlan.ssh ? (guestPlan.ssh.port ?? 22) : -1
    const portReady = async (port: number) => {
      // Refused at once: the worker then asks why, and learns QEMU exited.
      if (guests.get(guestPlan.name)?.exitReason) throw new Error('QEMU exited')
      if (port !== sshPort) return
      try {
        await guests.get(guestPlan.name)!.whenSshReady()
      } catch (error) {
        if (!sshFailureTold.has(guestPlan.name)) emit({ type: 'notice', message: (error as Error).message })
        sshFailureTold.add(guestPlan.name)
        throw error
      }
    }
    const connections = new Set<Socket>()
    forwarded.set(guestPlan.name, connections)
    const usedThroughPort = { used: () => labReset.used(guestPlan.name), settled: labReset.settled }
    servers.push(serveForwarding(guest.files.forwardSocket, guest.plan.nics[0]!.ip, usedThroughPort, portReady, connections))
    servers.push(serveConsoleAttach(guest.files.consoleSocket, () => guests.get(guestPlan.name)!.console))
    emit({ type: 'guest-ready', guest: guest.plan.name, stageMs: guest.stageMs, pid: guest.pid, booted: guest.restoring ? 'restored' : 'cold' })
  })
  // Each boot started its QEMU before its first wait: every guest runs now.
  emit({ type: 'launched' })
  const results = await Promise.allSettled(booting)
  const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failures.length > 0) {
    return { type: 'failed', message: failures.map((failure) => (failure.reason as Error).message).join('\n\n') }
  }
  const runCaptures: { bridge: string; path: string }[] = []
  if (plan.capture) {
    for (const bridge of plan.bridges) runCaptures.push({ bridge: bridge.name, path: await captures!.start(`run-${bridge.name}`, bridge.name) })
  }
  usedSinceReset = false
  usedGuests.clear()
  return { type: 'ready', captures: runCaptures }
}

const sshFailureTold = new Set<string>()

/** A guest's QEMU gone: its forwarded connections end now (nothing will ever answer them). */
function endForwardsOnExit(guest: GuestProcess): void {
  guest.onExit(() => {
    // A reset replaces the guest: only the one that is current owns the connections.
    if (guests.get(guest.plan.name) !== guest) return
    for (const connection of forwarded.get(guest.plan.name) ?? []) connection.destroy()
  })
}
/** Each guest's open forwarded connections (SSH and other ports), ended when it is reset. */
const forwarded = new Map<string, Set<Socket>>()

// Verdicts on restored guests' snapshots, as the test process sends them.
const snapshotVerdicts = new Map<string, { promise: Promise<void>; settle: (problem?: string) => void }>()
function verdictFor(guest: string) {
  let verdict = snapshotVerdicts.get(guest)
  if (!verdict) {
    let settle!: (problem?: string) => void
    const promise = new Promise<void>((resolve, reject) => {
      settle = (problem) => (problem ? reject(new Error(`the snapshot is damaged: ${problem}`)) : resolve())
    })
    promise.catch(() => {})
    verdict = { promise, settle }
    snapshotVerdicts.set(guest, verdict)
  }
  return verdict
}
function snapshotChecked(guest: string): Promise<void> {
  return verdictFor(guest).promise
}

interface GuestBoot {
  plan: GuestPlan
  files: GuestFiles
  launch: QemuLaunch
  multiplier: number
  privateKey: string
}

/** A saved state: QEMU's stream, and the memory file it leaves the memory to, if any (guest-snapshot.ts). */
interface SavedState {
  state: string
  ram?: string
}

function savedSnapshot(snapshot: GuestSnapshotSetup): SavedState {
  return { state: statePath(snapshot.dir), ram: snapshot.ram ? ramPath(snapshot.dir) : undefined }
}

interface BootOptions {
  onStage?: (stage: Stage, elapsedMs: number) => void
  /** A saved state to restore; should that fail, the guest boots cold after all. */
  restoreFrom?: SavedState
  restoreCheck?: () => Promise<void>
  onRestoreFailed?: (reason: string) => void
  /** After a cold boot, once the guest is ready (saving a snapshot). */
  afterColdBoot?: (guest: GuestProcess) => Promise<void>
  sshInBackground?: boolean
}

function timeoutsFor(boot: GuestBoot): StageTimeouts {
  const ready = boot.plan.bootTimeout
  return { qemu: 10_000 * boot.multiplier, console: ready, restore: 20_000 * boot.multiplier, shell: ready, ssh: ready }
}

/** Brings one guest up: restored from a saved state when given one, else (or when that fails) booted cold. */
async function bootGuest(boot: GuestBoot, options: BootOptions): Promise<GuestProcess> {
  const { plan, files, launch } = boot
  const timeouts = timeoutsFor(boot)
  const onStage = options.onStage ?? (() => {})
  if (options.restoreFrom) {
    const { state, ram } = options.restoreFrom
    // A snapshot's memory file is mapped copy-on-write: it never changes.
    const restored = new GuestProcess(plan, files, { ...launch, incoming: state, ram: ram ? { path: ram, shared: false } : launch.ram }, serviceExitNotice(plan.name))
    guests.set(plan.name, restored)
  endForwardsOnExit(restored)
    restored.start()
    const beforeResume = options.restoreCheck?.()
    beforeResume?.catch(() => {})
    try {
      await restored.waitReady({ ...timeouts, shell: Math.min(timeouts.shell, 20_000 * boot.multiplier) }, boot.privateKey, { onStage, beforeResume, warmUp })
      return restored
    } catch (error) {
      if (stopping) throw error
      options.onRestoreFailed?.(firstLine(error))
      await restored.terminate()
    }
  }
  // Booted to be saved with its memory as a file of its own: the memory is in one from the start.
  const memory = options.afterColdBoot && launch.ram ? new MemoryFile(memoryDir, plan.name) : undefined
  const guest = new GuestProcess(plan, files, memory ? { ...launch, ram: { path: memory.path, shared: true } } : launch, serviceExitNotice(plan.name))
  guests.set(plan.name, guest)
  endForwardsOnExit(guest)
  if (memory) guest.onExit(() => memory.close())
  guest.start()
  const afterReady = options.afterColdBoot && (() => options.afterColdBoot!(guest))
  await guest.waitReady(timeouts, boot.privateKey, { onStage, afterReady, sshInBackground: options.sshInBackground, waitForLease })
  return guest
}

/** An own image's DHCP NIC is ready when the lab's server has leased it its address. */
const waitForLease = (nic: NicPlan, deadline: number, signal: AbortSignal) => dhcp.waitForLease(nic.bridge, nic.mac, deadline, signal)

/** Saves a freshly booted guest for later runs; a failure costs only the snapshot. */
async function saveSnapshot(guest: GuestProcess, snapshot: GuestSnapshotSetup, boot: GuestBoot): Promise<void> {
  const started = Date.now()
  let draft: string | undefined
  try {
    draft = await newSnapshotDraft(snapshot.dir)
    await saveState(guest, { path: statePath(draft), ram: snapshot.ram ? ramPath(draft) : undefined }, boot)
    await commitSnapshot(draft, snapshot.dir, guest.plan.name, snapshot.key)
    emit({ type: 'snapshot-saved', guest: guest.plan.name, elapsedMs: Date.now() - started })
  } catch (error) {
    if (draft) rmSync(draft, { recursive: true, force: true })
    emit({ type: 'notice', message: `${guest.plan.name}: its booted state could not be saved; later runs boot it cold (${firstLine(error)})` })
  }
}

/** Saves the guest's state to a file (`path`, and its memory file copied to `ram`), or as its reset point inside QEMU (`inQemu`). */
async function saveState(guest: GuestProcess, where: { path: string; ram?: string } | { inQemu: true }, boot: GuestBoot): Promise<void> {
  const timeout = timeoutsFor(boot).restore
  // Saved with its console set up, so that no restore of it has to set it up again.
  await guest.console.setUpNow(timeout)
  if (guest.plan.ssh) await waitForClosedConnections(guest.console, guest.plan.ssh.port ?? 22, timeout)
  if ('path' in where) {
    const live = guest.launch.ram
    const memory = where.ram && live?.path && live.shared ? { file: live.path, copy: where.ram } : undefined
    if (where.ram && !memory) throw new Error('its memory is not in a file to save')
    await saveGuestState(guest.qmp, where.path, Date.now() + timeout, memory)
  }
  else await saveResetPoint(guest.qmp, timeout)
  await bringToPresent(guest, timeout)
}

// Watch mode and per-file isolation: each guest's state right after boot, and the way back to it.
const boots = new Map<string, GuestBoot>()
/** The lab's processes run ahead of Vitest's while guests boot or are reset (boot-priority.ts). */
const bootPriority = new BootPriority()
/** Restored and reset guests translate ahead what tests run first, while the guests have a core each (guest-snapshot.ts). */
let warmUp = false
const resetPoints = new Map<string, SavedState>()
/** Where memory files go (memory-file.ts). */
let memoryDir = ''
/** Guests whose reset point is kept inside their QEMU (reset-point-file.ts): a reset loads it there. */
const resetInQemu = new Set<string>()
let usedSinceReset = true
/** Guests reached since their last reset (per-test isolation resets only these). */
const usedGuests = new Set<string>()
let resetting: Promise<ResetResult> | undefined

/**
 * The guest's state right after boot, inside its QEMU where it can be (a reset is then a
 * `loadvm`); else, and as the way back should that fail, the snapshot the guest came from
 * or was saved to, or a state saved in the run's folder now.
 */
async function keepResetPoint(guest: GuestProcess, boot: GuestBoot, snapshot?: GuestSnapshotSetup): Promise<void> {
  // A guest with storage is reset by booting it again: its disk would not match a saved memory.
  if (!boot.launch.saved) return
  const name = guest.plan.name
  const fromSnapshot = snapshot && existsSync(statePath(snapshot.dir)) ? savedSnapshot(snapshot) : undefined
  if (fromSnapshot) resetPoints.set(name, fromSnapshot)
  if (boot.launch.vmstate) {
    try {
      await saveState(guest, { inQemu: true }, boot)
      resetInQemu.add(name)
      return
    } catch (error) {
      emit({ type: 'notice', message: `${name}: its reset point could not be kept in QEMU, so each reset starts a new QEMU (${firstLine(error)})` })
    }
  }
  if (fromSnapshot) return
  const path = join(boot.files.dir, 'reset-state')
  await saveState(guest, { path }, boot)
  resetPoints.set(name, { state: path })
}

const labReset: LabReset = {
  reset: resetAll,
  used: (guest) => {
    usedSinceReset = true
    if (guest !== undefined) usedGuests.add(guest)
  },
  settled: () => (resetting ? resetting.then(() => {}, () => {}) : Promise.resolve()),
}

/**
 * Brings every guest back to its reset point, or with `onlyUsed` those used since their last
 * reset (one reset at a time; callers during one share it).
 */
function resetAll(ifUsed: boolean, onlyUsed = false): Promise<ResetResult> {
  if (resetting) return resetting
  if (ifUsed && !usedSinceReset) return Promise.resolve({ reset: false, ms: 0, guests: [] })
  const targets = [...boots.values()].filter((boot) => !onlyUsed || usedGuests.has(boot.plan.name))
  if (targets.length === 0) return Promise.resolve({ reset: false, ms: 0, guests: [] })
  resetting = (async () => {
    const started = Date.now()
    const release = bootPriority.hold()
    try {
      await Promise.all(targets.map(resetGuest))
    } finally {
      release()
    }
    for (const boot of targets) usedGuests.delete(boot.plan.name)
    if (!onlyUsed) usedSinceReset = false
    return { reset: true, ms: Date.now() - started, guests: targets.map((boot) => boot.plan.name) }
  })().finally(() => (resetting = undefined))
  return resetting
}

type ResetResult = { reset: boolean; ms: number; guests: string[] }

async function resetGuest(boot: GuestBoot): Promise<void> {
  const name = boot.plan.name
  // Connections to the old guest process end before anything is awaited, so that clients
  // (an SSH pool kept by a worker) see it at once; those made from now on wait for the
  // reset and reach the new one. Should its SSH fail too, that is news again.
  for (const connection of forwarded.get(name) ?? []) connection.destroy()
  sshFailureTold.delete(name)
  const current = guests.get(name)
  if (current && resetInQemu.has(name)) {
    const timeout = timeoutsFor(boot).restore
    try {
      await current.unlessExited(async () => {
        await loadResetPoint(current.qmp, timeout)
        await bringToPresent(current, timeout, warmUp)
      })
      return
    } catch (error) {
      resetInQemu.delete(name)
      emit({ type: 'notice', message: `${name}: its reset point could not be loaded in QEMU, so it is reset by a new QEMU (${firstLine(error)})` })
    }
  }
  await current?.terminate()
  let failed = false
  const guest = await bootGuest(boot, { restoreFrom: resetPoints.get(name), onRestoreFailed: () => (failed = true) })
  // Without a usable saved state the guest was booted cold: save that for the next reset.
  if (failed) resetPoints.delete(name)
  if (!resetPoints.has(name)) await keepResetPoint(guest, boot)
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
  dhcp.stopAll()
  undoAndRemoveRunDir()
  emit({ type: 'stopped' })
  process.exit(0)
}

readJsonLines<SupervisorCommand>(process.stdin, (command) => {
  if (command.type === 'start') start(command).catch((error: Error) => emit({ type: 'failed', message: error.message }))
  else if (command.type === 'stop') void stop()
  else if (command.type === 'snapshot-checked') verdictFor(command.guest).settle(command.problem)
  else if (command.type === 'reset') {
    const done = resetAll(command.ifUsed === true)
    emit({ type: 'reset-started' })
    done.then(
      ({ ms }) => emit({ type: 'reset-done', ms }),
      (error: Error) => emit({ type: 'reset-done', ms: 0, error: error.message }),
    )
  }
}, { onMalformed: (problem) => process.stderr.write(`vitest-qemu supervisor: ignored a command from the test process: ${problem}\n`) })
process.stdin.on('end', () => {
  killAll()
  process.exit(0)
})
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop())
process.on('exit', killAll)
