import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { which } from '../common/which.js'
import { appendFile, copyFile, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { archProfiles } from '../config/arch.js'
import { cacheDir } from '../common/cache-dir.js'
import type { LabConfig } from '../config/config.js'
import { guestOverlay } from './guest-overlay.js'
import { checkHostMode } from './host-mode.js'
import { ensureDefaultImage } from '../images/default-image.js'
import { ensurePackageSet } from '../images/package-set.js'
import { chooseAccel, kvmCanRun } from './kvm-probe.js'
import type { GuestDescriptor, LabDescriptor } from '../protocol/lab-descriptor.js'
import { type LabPlan, planLab } from '../config/lab-plan.js'
import { BootProgress } from './boot-progress.js'
import { debug, info, seconds } from '../common/log.js'
import type { QemuLaunch } from '../qemu/qemu-args.js'
import { RUN_LOGS, claimLogDir, logDirInUse, releaseLogDir, runLogDir } from '../run/run-logs.js'
import { runtimeRoot } from '../run/runtime-dir.js'
import { createRunFolder } from './run-folder.js'
import { createResetPointFile } from './reset-point-file.js'
import { processIdentity } from '../run/process-identity.js'
import { isNotFound } from '../run/private-path.js'
import { undoJournalOf } from '../run/undo-actions.js'
import { newEd25519KeyPair } from './ssh-key-pair.js'
import { writeFileAtomically } from '../common/write-atomically.js'
import { fileHash } from '../qemu/file-hash-memo.js'
import { firstSaveNote, snapshotFor, snapshotIneligibility, snapshotsEnabled } from './snapshot-setup.js'
import { snapshotCacheLimit, stateChecksumProblem } from '../qemu/snapshot-store.js'
import { writeLedger } from '../run/run-ledger.js'
import { sweepDeadRuns } from './sweep.js'
import { followAfterBoot, supervisorEvents } from './supervisor-events.js'
import { takeSupervisor } from './supervisor-process.js'
import type { GuestFiles, SupervisorEvent, SupervisorStart } from '../protocol/supervisor-protocol.js'

// The lab engine, usable without Vitest: validate, prepare images, start the
// supervisor in a private network namespace, wait until every guest is ready.

export interface StartLabOptions {
  /** Relative paths in the config resolve against it; run logs go under it. Default: cwd. */
  root?: string
  signal?: AbortSignal
  /** Keep each guest's state after boot so that `reset()` can bring the lab back to it (watch mode). */
  resettable?: boolean
}

/** What Vitest's global setup adds: the key under which the plugin started its supervisor ahead. */
export interface LaunchLabOptions extends StartLabOptions {
  supervisorKey?: object
}

export interface StartedLab {
  readonly descriptor: LabDescriptor
  readonly logDir: string
  /**
   * Brings every guest back to its state right after boot (restoring a saved state, or
   * booting again where there is none); needs `resettable`. Resolves with the milliseconds taken.
   */
  reset(): Promise<number>
  /**
   * Starts a reset and resolves once it is under way, with its completion: requests of
   * workers wait until it is done, so a rerun's workers can start meanwhile. With `ifUsed`,
   * only if the lab was used since its last reset; else `done` resolves with 0 at once.
   */
  beginReset(options?: { ifUsed?: boolean }): Promise<{ done: Promise<number> }>
  /** Calls `listener` with the reason if the supervisor ends without `stop()` (it crashed or was killed). */
  onUnexpectedExit(listener: (reason: string) => void): void
  stop(): Promise<void>
}

/**
 * A lab whose guests are booting: the supervisor runs and QEMU starts. `descriptor` already
 * holds every address, socket and path; what only the boot tells (QEMU's pid, the boot
 * stages, cold or restored) comes with `ready`'s lab, which rejects with the boot's error
 * (everything started is gone by then).
 */
export interface LaunchedLab {
  readonly descriptor: LabDescriptor
  readonly ready: Promise<StartedLab>
  /** Stops the lab, booting or booted. */
  stop(): Promise<void>
}

const log = debug('lab')
/** The longest path a unix socket takes (sun_path, less its terminating NUL). */
const MAX_SOCKET_PATH = 107

export async function startLab(config: LabConfig, options: StartLabOptions = {}): Promise<StartedLab> {
  return (await launchLab(config, options)).ready
}

/** Starts the lab and resolves once every guest's QEMU runs (booting, not booted: see `ready`). */
export async function launchLab(config: LabConfig, options: LaunchLabOptions = {}): Promise<LaunchedLab> {
  const root = options.root ?? process.cwd()
  const started = Date.now()
  const phase = (name: string) => log(`${name} after ${Date.now() - started} ms`)
  const plan = planLab(config, { root })
  const snapshots = snapshotsEnabled(plan.snapshots)
  // A size limit that is no number fails now, before anything is created, not at the first save.
  const snapshotLimit = snapshots ? snapshotCacheLimit() : 0
  await checkHostTools(plan)
  const cache = cacheDir(config.cacheDir)

  // The run's folder with its ledger comes first, so that no sweep can take it for a dead run's.
  const runtime = runtimeRoot()
  const { runId, runDir, ledger } = await createRunFolder(runtime)
  const logDir = runLogDir(root, runId)

  let supervisor: ChildProcess | undefined
  const cleanupOnFailure = async () => {
    // Stopped, not killed: the supervisor ends its QEMUs and waits for them, so none
    // outlives the rejection (killed, they died after it, by the parent-death signal).
    if (supervisor) await stopSupervisor(supervisor)
    await removeRunFolder(runDir, runId)
    await releaseLogDir(logDir)
  }
  try {
    // Dead runs' leftovers go before the host is checked: a host-mode run that was
    // killed may have left the very bridge this run needs.
    const swept = await sweepDeadRuns(runtime)
    for (const kept of swept.kept) info(`a dead run's host changes could not be undone: ${kept}`)
    phase('dead runs swept')
    if (plan.network === 'host') await checkHostMode(plan)
    phase('host checked')
    await mkdir(logDir, { recursive: true })
    // Claimed while the lab runs, so that other runs of the project keep it among the last 10.
    await claimLogDir(logDir, { testProcess: processIdentity(process.pid) })
    await pruneOldRuns(join(root, RUN_LOGS), 10)
    // The key pair default images trust: for this run only, or, with snapshots (whose
    // guests keep the key they were saved with), the cache's own. Private key 0600.
    const keys = snapshots ? await cachedKeyPair(cache) : newEd25519KeyPair()
    const privateKeyPath = join(runDir, 'id_ed25519')
    await writeFile(privateKeyPath, keys.private, { mode: 0o600 })

    const guestsSetup: SupervisorStart['guests'] = {}
    const accelByArch = new Map<string, Awaited<ReturnType<typeof chooseAccel>>>()
    for (const guest of plan.guests) {
      const dir = join(runDir, guest.name)
      await mkdir(dir, { recursive: true })
      const files: GuestFiles = {
        dir,
        serialSocket: join(dir, 'serial.sock'),
        qmpSocket: join(dir, 'qmp.sock'),
        agent: guest.agent ? { commandSocket: join(dir, 'agent.sock'), controlSocket: join(dir, 'agent-control.sock') } : undefined,
        forwardSocket: join(dir, 'forward.sock'),
        consoleSocket: join(dir, 'console.sock'),
        transcript: join(logDir, `${guest.name}.console.log`),
        qemuLog: join(logDir, `${guest.name}.qemu.log`),
      }
      // A unix socket's path holds at most 107 bytes: a long runtime root or guest name must say so here, not fail in QEMU.
      for (const socket of [files.serialSocket, files.qmpSocket, files.forwardSocket, files.consoleSocket, files.agent?.commandSocket, files.agent?.controlSocket]) {
        if (socket && Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
          throw new Error(`vitest-qemu: ${guest.name}: the socket path ${socket} is ${Buffer.byteLength(socket)} bytes, over the ${MAX_SOCKET_PATH} a unix socket allows; use a shorter guest name or VITEST_QEMU_RUNTIME_DIR`)
        }
      }
      let launch: QemuLaunch
      /** What the guest's initramfs is made of, for its snapshot key. */
      let initrdIdentity: string | undefined
      if (guest.defaultImage) {
        const image = await ensureDefaultImage(guest.arch, cache)
        const initrd = join(dir, 'initrd.cpio')
        // The image's initramfs with the guest's own files appended (the kernel unpacks both).
        const overlay = guestOverlay(plan, guest, keys.public)
        await copyFile(image.initrd, initrd)
        // Its packages' archive between the two: the guest's own files may replace theirs.
        const packageSet = guest.packages.length > 0 ? await ensurePackageSet(guest.name, image, guest.packages, cache) : undefined
        if (packageSet) {
          const archive = await readFile(packageSet.cpio)
          await appendFile(initrd, archive)
          // The archive is in memory twice while the kernel unpacks it: a default memory grows to hold it.
          const needed = Math.ceil((2 * archive.length) / 2 ** 20 / 64) * 64 + 192
          if (config.guests[guest.name]?.memory === undefined && guest.memory < needed) guest.memory = needed
        }
        await appendFile(initrd, overlay)
        if (snapshots) initrdIdentity = `${await fileHash(image.initrd, cache)} ${packageSet?.key ?? ''} ${createHash('sha256').update(overlay).digest('hex')}`
        launch = { accel: 'tcg', network: plan.network, kernel: image.kernel, initrd, serialSocket: files.serialSocket, qmpSocket: files.qmpSocket, agent: files.agent }
      } else {
        launch = {
          accel: 'tcg',
          network: plan.network,
          kernel: guest.kernel!,
          initrd: guest.initrd,
          rootfs: guest.rootfs ? { path: guest.rootfs, format: await diskFormat(guest.rootfs) } : undefined,
          serialSocket: files.serialSocket,
          qmpSocket: files.qmpSocket,
          agent: files.agent,
        }
      }
      if (!accelByArch.has(guest.arch)) {
        const choice = await chooseAccel(archProfiles[guest.arch].qemuBinary, launch.kernel, kvmCanRun(guest.arch), join(cache, 'kvm-probe.json'))
        accelByArch.set(guest.arch, choice)
        info(`${guest.arch} guests run under ${choice.accel.toUpperCase()}: ${choice.reason}`)
      }
      launch.accel = accelByArch.get(guest.arch)!.accel
      guestsSetup[guest.name] = { files, launch }
      // Its state is saved for later runs (snapshots) or resets (watch mode), unless it has storage.
      const ineligible = snapshotIneligibility(guest)
      launch.saved = !ineligible && (snapshots || options.resettable === true)
      if (ineligible && snapshots) info(`${guest.name} boots cold every run (no snapshot: ${ineligible})`)
      else if (snapshots && !ineligible) {
        const found = await snapshotFor(guest, launch, initrdIdentity, cache, options.resettable === true)
        if (found.discarded) info(`${guest.name}: its snapshot was not valid (${found.discarded}); it boots cold and is saved again`)
        guestsSetup[guest.name]!.snapshot = found.setup
      }
      if (options.resettable && launch.saved) launch.vmstate = await createResetPointFile(guest.name, dir)
    }

    phase('images and overlays ready')
    const controlSocket = join(runDir, 'control.sock')
    supervisor = takeSupervisor(plan.network, options.supervisorKey)
    // Listening from the start: a supervisor that fails at once (unshare refused) exits
    // before the next await is over, and its exit must still end the wait below.
    const events = supervisorEvents(supervisor)
    const supervisorIdentity = supervisor.pid === undefined ? undefined : processIdentity(supervisor.pid)
    if (supervisorIdentity) await writeLedger(runDir, { ...ledger, supervisor: supervisorIdentity, supervisorPid: supervisorIdentity.pid })
    await claimLogDir(logDir, { testProcess: processIdentity(process.pid), supervisor: supervisorIdentity })
    const start: SupervisorStart = { type: 'start', plan, runId, runDir, logDir, controlSocket, guests: guestsSetup, privateKey: keys.private, resettable: options.resettable === true }
    supervisor.stdin!.write(`${JSON.stringify(start)}\n`)
    // Each restored guest's state is checked here, on another core, while its QEMU loads it:
    // hashed when the file is new to this cache or changed (a SHA-256 of 60 MB takes a quarter
    // of a second), else its hash is remembered (file-hash-memo.ts).
    for (const [guest, setup] of Object.entries(guestsSetup)) {
      if (!setup.snapshot?.restore) continue
      const checked = (problem?: string) => supervisor!.stdin!.write(`${JSON.stringify({ type: 'snapshot-checked', guest, problem })}\n`)
      stateChecksumProblem(setup.snapshot.dir, (path) => fileHash(path, cache)).then(checked, (error: Error) => checked(error.message))
    }

    info(`booting ${plan.guests.length} guest${plan.guests.length === 1 ? '' : 's'} (run ${runId}, logs in ${logDir})`)
    const ready = new Map<string, Extract<SupervisorEvent, { type: 'guest-ready' }>>()
    let captures: { bridge: string; path: string }[] = []
    const describe = (): LabDescriptor => ({
      runId,
      runDir,
      logDir,
      controlSocket,
      network: plan.network,
      isolation: plan.isolation,
      supervisorPid: supervisor!.pid!,
      bridges: plan.bridges.map((bridge) => ({ name: bridge.name, subnet: bridge.subnet, address: bridge.address, subnet6: bridge.subnet6, address6: bridge.address6 })),
      captures,
      guests: plan.guests.map((guest): GuestDescriptor => {
        const files = guestsSetup[guest.name]!.files
        return {
          name: guest.name,
          arch: guest.arch,
          ip: guest.nics[0]!.ip,
          ip6: guest.nics[0]!.ip6,
          mac: guest.nics[0]!.mac,
          nics: guest.nics.map((nic) => ({ ...nic })),
          transcript: files.transcript,
          forwardSocket: files.forwardSocket,
          consoleSocket: files.consoleSocket,
          agent: files.agent !== undefined,
          services: guest.services.map((service) => service.name),
          ssh: guest.ssh
            ? { user: guest.ssh.user, password: guest.ssh.password, privateKeyPath: guest.defaultImage ? privateKeyPath : guest.ssh.privateKey, port: guest.ssh.port ?? 22 }
            : false,
          qemuPid: ready.get(guest.name)?.pid ?? -1,
          bootStages: ready.get(guest.name)?.stageMs ?? {},
          booted: ready.get(guest.name)?.booted ?? 'cold',
        }
      }),
    })
    const booting = describe()
    const whenReady = (async (): Promise<StartedLab> => {
      const progress = new BootProgress(plan.guests.map((guest) => guest.name))
      let labReady = false
      try {
        for (;;) {
          const event = await events.next(options.signal)
          if (event.type === 'progress') progress.stage(event.guest, event.stage, event.elapsedMs)
          else if (event.type === 'snapshot-saved') {
            progress.note(event.guest, `saved for later runs in ${seconds(event.elapsedMs)}`)
            const note = firstSaveNote(cache, snapshotLimit)
            if (note) progress.message(note)
          } else if (event.type === 'notice') progress.message(event.message)
          else if (event.type === 'guest-ready') {
            ready.set(event.guest, event)
            progress.ready(event.guest, event.booted)
          } else if (event.type === 'failed') throw new Error(`vitest-qemu: the lab did not come up:\n${event.message}`)
          else if (event.type === 'ready') {
            captures = event.captures
            labReady = true
            break
          }
        }
      } finally {
        progress.finish(labReady, started)
      }

      const descriptor = describe()
      const running = supervisor!
      let stopped: Promise<void> | undefined
      const afterBoot = followAfterBoot(events)
      // One reset at a time: the supervisor answers them in order.
      let resetting: Promise<unknown> = Promise.resolve()
      const beginReset = (resetOptions: { ifUsed?: boolean } = {}): Promise<{ done: Promise<number> }> => {
        if (!options.resettable) return Promise.reject(new Error('vitest-qemu: this lab was not started resettable'))
        const begun = resetting.catch(() => {}).then(async () => {
          const answers = afterBoot.expectReset()
          running.stdin!.write(`${JSON.stringify({ type: 'reset', ifUsed: resetOptions.ifUsed === true })}\n`)
          await answers.started
          return { done: answers.done }
        })
        resetting = begun.then(({ done }) => done)
        resetting.catch(() => {})
        return begun
      }
      return {
        descriptor,
        logDir,
        beginReset,
        onUnexpectedExit: (listener) => {
          running.once('exit', (code, signal) => {
            if (!stopped) listener(`the supervisor exited (${signal ?? `code ${code}`})`)
          })
        },
        reset: async () => (await beginReset()).done,
        stop: () => (stopped ??= stopSupervisor(running).finally(() => Promise.all([removeRunFolder(runDir, runId), releaseLogDir(logDir)]).then(() => {}))),
      }
    })().catch(async (error: unknown) => {
      await cleanupOnFailure()
      throw error
    })
    let settled = false
    const over = whenReady.then(() => (settled = true), () => (settled = true))
    // Returns once every QEMU runs (Vitest then starts its workers while the guests boot),
    // or once the boot has ended before that (a failure, an abort): `ready` tells which.
    await Promise.race([events.launched(), over])
    return {
      descriptor: booting,
      ready: whenReady,
      stop: async () => {
        // Booting: the supervisor ends its QEMUs, and the boot's failure cleans up the rest.
        if (!settled && supervisor) await stopSupervisor(supervisor)
        const lab = await whenReady.catch(() => undefined)
        await lab?.stop()
      },
    }
  } catch (error) {
    await cleanupOnFailure()
    throw error
  }
}

async function stopSupervisor(child: ChildProcess): Promise<void> {
  // No pid: it never started, and no 'exit' will come.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.stdin!.write(`${JSON.stringify({ type: 'stop' })}\n`)
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/**
 * Once the supervisor is gone: undoes what its journal still records (it was killed, or
 * failed before undoing), then removes the run's folder. Should a change resist, the
 * folder and its journal stay for the next run's sweep or `npx vitest-qemu cleanup`.
 */
async function removeRunFolder(runDir: string, runId: string): Promise<void> {
  let left: string[]
  try {
    left = undoJournalOf(runDir, runId)
  } catch (error) {
    left = isNotFound(error) ? [] : [`its undo journal could not be read: ${(error as Error).message}`]
  }
  if (left.length > 0) {
    info(`run ${runId}: host changes were not undone, so ${runDir} is kept for npx vitest-qemu cleanup: ${left.join('; ')}`)
    return
  }
  await rm(runDir, { recursive: true, force: true })
}

async function checkHostTools(plan: LabPlan): Promise<void> {
  const problems: string[] = []
  for (const binary of new Set(plan.guests.map((guest) => archProfiles[guest.arch]))) {
    if (!which(binary.qemuBinary)) problems.push(`${binary.qemuBinary} is not installed (Debian/Ubuntu: apt-get install ${binary.debianPackage})`)
  }
  for (const tool of ['ip', 'unshare', 'setpriv']) {
    if (!which(tool)) problems.push(`${tool} is not installed (Debian/Ubuntu: apt-get install ${tool === 'ip' ? 'iproute2' : 'util-linux'})`)
  }
  if (problems.length > 0) throw new Error(`vitest-qemu: this machine lacks what the lab needs:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
}


async function diskFormat(path: string): Promise<'raw' | 'qcow2'> {
  const handle = await open(path, 'r')
  try {
    const magic = Buffer.alloc(4)
    await handle.read(magic, 0, 4, 0)
    return magic.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw'
  } finally {
    await handle.close()
  }
}

async function pruneOldRuns(dir: string, keep: number): Promise<void> {
  if (!existsSync(dir)) return
  const entries = await readdir(dir, { withFileTypes: true })
  // Another run of the project, pruning at the same time, may remove a folder between the listing and its stat.
  const found = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry) => ({ path: join(dir, entry.name), mtime: await stat(join(dir, entry.name)).then((info) => info.mtimeMs, () => undefined) })),
  )
  const runs = found.filter((run): run is { path: string; mtime: number } => run.mtime !== undefined)
  runs.sort((a, b) => b.mtime - a.mtime)
  // A lab that runs long (the one Vitest's global setup started) is older than the runs
  // started meanwhile: its folder, where it still writes, is never pruned while it runs.
  for (const old of runs.slice(keep)) if (!logDirInUse(old.path)) await rm(old.path, { recursive: true, force: true })
}

/** The key pair kept in the cache for snapshotted guests, made on first use. */
async function cachedKeyPair(cache: string): Promise<{ private: string; public: string }> {
  const path = join(cache, 'ssh', 'ed25519-key-pair.json')
  if (!existsSync(path)) {
    await mkdir(join(cache, 'ssh'), { recursive: true, mode: 0o700 })
    const keys = newEd25519KeyPair()
    // One file: a concurrent run reads one whole pair or none.
    await writeFileAtomically(path, JSON.stringify({ private: keys.private, public: keys.public }), 0o600)
  }
  const pair = JSON.parse(await readFile(path, 'utf8')) as { private: string; public: string }
  return pair
}
