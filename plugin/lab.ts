import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import ssh2 from 'ssh2'
import { archProfiles } from './arch.js'
import { cacheDir } from './cache-dir.js'
import type { LabConfig } from './config.js'
import { guestOverlay } from './guest-overlay.js'
import { checkHostMode } from './host-mode.js'
import { ensureDefaultImage } from './images/default-image.js'
import { readJsonLines } from './json-lines.js'
import { chooseAccel, kvmCanRun } from './kvm-probe.js'
import type { GuestDescriptor, LabDescriptor } from './lab-descriptor.js'
import { type LabPlan, planLab } from './lab-plan.js'
import { info, seconds } from './log.js'
import type { QemuLaunch } from './qemu-args.js'
import { newRunId, runDirFor } from './runtime-dir.js'
import { snapshotFor, snapshotIneligibility, snapshotsEnabled } from './snapshot-setup.js'
import { sweepDeadRuns, writeLedger } from './sweep.js'
import type { GuestFiles, SupervisorEvent, SupervisorStart } from './supervisor-protocol.js'

// The lab engine, usable without Vitest: validate, prepare images, start the
// supervisor in a private network namespace, wait until every guest is ready.

export interface StartLabOptions {
  /** Relative paths in the config resolve against it; run logs go under it. Default: cwd. */
  root?: string
  signal?: AbortSignal
}

export interface StartedLab {
  readonly descriptor: LabDescriptor
  readonly logDir: string
  stop(): Promise<void>
}

const SUPERVISOR = fileURLToPath(new URL('./supervisor.js', import.meta.url))

export async function startLab(config: LabConfig, options: StartLabOptions = {}): Promise<StartedLab> {
  const root = options.root ?? process.cwd()
  const plan = planLab(config, { root })
  await checkHostTools(plan)
  if (plan.network === 'host') await checkHostMode(plan)
  const started = Date.now()
  const cache = cacheDir(config.cacheDir)

  const runId = newRunId()
  const runDir = runDirFor(runId)
  const logDir = join(root, '.vitest-qemu', 'runs', runId)
  await mkdir(runDir, { recursive: true, mode: 0o700 })
  const ledger = { runId, testProcessPid: process.pid, startedAt: new Date().toISOString() }
  await writeLedger(runDir, ledger)
  await mkdir(logDir, { recursive: true })
  await sweepDeadRuns()
  await pruneOldRuns(join(root, '.vitest-qemu', 'runs'), 10)

  let supervisor: ChildProcess | undefined
  const cleanupOnFailure = async () => {
    supervisor?.kill('SIGKILL')
    await rm(runDir, { recursive: true, force: true })
  }
  try {
    const snapshots = snapshotsEnabled(plan.snapshots)
    // The key pair default images trust: for this run only, or, with snapshots (whose
    // guests keep the key they were saved with), the cache's own. Private key 0600.
    const keys = snapshots ? await cachedKeyPair(cache) : ssh2.utils.generateKeyPairSync('ed25519')
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
        forwardSocket: join(dir, 'forward.sock'),
        consoleSocket: join(dir, 'console.sock'),
        transcript: join(logDir, `${guest.name}.console.log`),
        qemuLog: join(logDir, `${guest.name}.qemu.log`),
      }
      let launch: QemuLaunch
      let initrdBytes: Buffer | undefined
      if (guest.defaultImage) {
        const image = await ensureDefaultImage(guest.arch, cache)
        const initrd = join(dir, 'initrd.cpio')
        initrdBytes = Buffer.concat([await readFile(image.initrd), guestOverlay(plan, guest, keys.public)])
        await writeFile(initrd, initrdBytes)
        launch = { accel: 'tcg', network: plan.network, kernel: image.kernel, initrd, serialSocket: files.serialSocket, qmpSocket: files.qmpSocket }
      } else {
        launch = {
          accel: 'tcg',
          network: plan.network,
          kernel: guest.kernel!,
          initrd: guest.initrd,
          rootfs: guest.rootfs ? { path: guest.rootfs, format: await diskFormat(guest.rootfs) } : undefined,
          serialSocket: files.serialSocket,
          qmpSocket: files.qmpSocket,
        }
      }
      if (!accelByArch.has(guest.arch)) {
        const choice = await chooseAccel(archProfiles[guest.arch].qemuBinary, launch.kernel, kvmCanRun(guest.arch))
        accelByArch.set(guest.arch, choice)
        info(`${guest.arch} guests run under ${choice.accel.toUpperCase()}: ${choice.reason}`)
      }
      launch.accel = accelByArch.get(guest.arch)!.accel
      guestsSetup[guest.name] = { files, launch }
      const ineligible = snapshots ? snapshotIneligibility(guest) : undefined
      if (ineligible) info(`${guest.name} boots cold every run (no snapshot: ${ineligible})`)
      else if (snapshots) {
        const found = await snapshotFor(guest, launch, initrdBytes, cache)
        if (found.discarded) info(`${guest.name}: its snapshot was not valid (${found.discarded}); it boots cold and is saved again`)
        guestsSetup[guest.name]!.snapshot = found.setup
      }
    }

    const controlSocket = join(runDir, 'control.sock')
    supervisor = spawnSupervisor(plan.network)
    await writeLedger(runDir, { ...ledger, supervisorPid: supervisor.pid })
    const events = supervisorEvents(supervisor)
    const start: SupervisorStart = { type: 'start', plan, runId, runDir, logDir, controlSocket, guests: guestsSetup, privateKey: keys.private }
    supervisor.stdin!.write(`${JSON.stringify(start)}\n`)

    info(`booting ${plan.guests.length} guest${plan.guests.length === 1 ? '' : 's'} (run ${runId}, logs in ${logDir})`)
    const ready = new Map<string, Extract<SupervisorEvent, { type: 'guest-ready' }>>()
    let captures: { bridge: string; path: string }[] = []
    for (;;) {
      const event = await events.next(options.signal)
      if (event.type === 'progress') info(`  ${event.guest}: ${event.stage} ready after ${seconds(event.elapsedMs)}`)
      else if (event.type === 'snapshot-saved') info(`  ${event.guest}: saved its booted state for later runs (${seconds(event.elapsedMs)})`)
      else if (event.type === 'notice') info(event.message)
      else if (event.type === 'guest-ready') ready.set(event.guest, event)
      else if (event.type === 'failed') throw new Error(`vitest-qemu: the lab did not come up:\n${event.message}`)
      else if (event.type === 'ready') {
        captures = event.captures
        break
      }
    }
    info(`lab ready in ${seconds(Date.now() - started)}`)

    const descriptor: LabDescriptor = {
      runId,
      runDir,
      logDir,
      controlSocket,
      network: plan.network,
      supervisorPid: supervisor.pid!,
      bridges: plan.bridges.map((bridge) => ({ name: bridge.name, subnet: bridge.subnet, address: bridge.address })),
      captures,
      guests: plan.guests.map((guest): GuestDescriptor => {
        const files = guestsSetup[guest.name]!.files
        return {
          name: guest.name,
          arch: guest.arch,
          ip: guest.nics[0]!.ip,
          mac: guest.nics[0]!.mac,
          nics: guest.nics.map((nic) => ({ ...nic })),
          transcript: files.transcript,
          forwardSocket: files.forwardSocket,
          consoleSocket: files.consoleSocket,
          ssh: guest.ssh
            ? { user: guest.ssh.user, password: guest.ssh.password, privateKeyPath: guest.defaultImage ? privateKeyPath : guest.ssh.privateKey, port: guest.ssh.port ?? 22 }
            : false,
          qemuPid: ready.get(guest.name)?.pid ?? -1,
          bootStages: ready.get(guest.name)?.stageMs ?? {},
          booted: ready.get(guest.name)?.booted ?? 'cold',
        }
      }),
    }
    const running = supervisor
    let stopped: Promise<void> | undefined
    return {
      descriptor,
      logDir,
      stop: () => (stopped ??= stopSupervisor(running).finally(() => rm(runDir, { recursive: true, force: true }))),
    }
  } catch (error) {
    await cleanupOnFailure()
    throw error
  }
}

function spawnSupervisor(network: 'namespace' | 'host'): ChildProcess {
  // detached: its own process group, so a Ctrl-C in the terminal reaches Vitest, and the
  // supervisor learns of it from its closed stdin, not from a signal.
  const options = { stdio: ['pipe', 'pipe', 'inherit'] as ('pipe' | 'inherit')[], detached: true }
  if (network === 'host') return spawn(process.execPath, [SUPERVISOR], options)
  // A fresh network namespace; without root, a user namespace around it (no sudo needed).
  const unshare = process.getuid?.() !== 0 ? ['--user', '--map-root-user', '--net'] : ['--net']
  return spawn('unshare', [...unshare, '--', process.execPath, SUPERVISOR], options)
}

interface EventStream {
  next(signal?: AbortSignal): Promise<SupervisorEvent>
}

function supervisorEvents(child: ChildProcess): EventStream {
  const queue: SupervisorEvent[] = []
  let wake: (() => void) | undefined
  let exited: string | undefined
  readJsonLines<SupervisorEvent>(child.stdout!, (event) => {
    queue.push(event)
    wake?.()
  })
  child.on('exit', (code, signal) => {
    exited = `the supervisor exited (${signal ?? `code ${code}`})`
    wake?.()
  })
  child.on('error', (error) => {
    exited = `the supervisor could not start: ${error.message}`
    wake?.()
  })
  return {
    async next(signal) {
      for (;;) {
        const event = queue.shift()
        if (event) return event
        if (exited) throw new Error(`vitest-qemu: ${exited}`)
        if (signal?.aborted) throw signal.reason
        // The abort listener goes when the wait ends: a lab of many guests waits for many events.
        const onAbort = () => wake?.()
        signal?.addEventListener('abort', onAbort, { once: true })
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        signal?.removeEventListener('abort', onAbort)
        wake = undefined
      }
    },
  }
}

async function stopSupervisor(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.stdin!.write(`${JSON.stringify({ type: 'stop' })}\n`)
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

async function checkHostTools(plan: LabPlan): Promise<void> {
  const problems: string[] = []
  for (const binary of new Set(plan.guests.map((guest) => archProfiles[guest.arch]))) {
    const found = await execa('sh', ['-c', `command -v ${binary.qemuBinary}`], { reject: false })
    if (found.exitCode !== 0) problems.push(`${binary.qemuBinary} is not installed (Debian/Ubuntu: apt-get install ${binary.debianPackage})`)
  }
  for (const tool of ['ip', 'unshare', 'setpriv']) {
    const found = await execa('sh', ['-c', `command -v ${tool}`], { reject: false })
    if (found.exitCode !== 0) problems.push(`${tool} is not installed (Debian/Ubuntu: apt-get install ${tool === 'ip' ? 'iproute2' : 'util-linux'})`)
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
  const runs = await Promise.all(
    entries.filter((entry) => entry.isDirectory()).map(async (entry) => ({ path: join(dir, entry.name), mtime: (await stat(join(dir, entry.name))).mtimeMs })),
  )
  runs.sort((a, b) => b.mtime - a.mtime)
  for (const old of runs.slice(keep)) await rm(old.path, { recursive: true, force: true })
}

/** The key pair kept in the cache for snapshotted guests, made on first use. */
async function cachedKeyPair(cache: string): Promise<{ private: string; public: string }> {
  const path = join(cache, 'ssh', 'ed25519-key-pair.json')
  if (!existsSync(path)) {
    await mkdir(join(cache, 'ssh'), { recursive: true, mode: 0o700 })
    const keys = ssh2.utils.generateKeyPairSync('ed25519')
    // One file, written aside and renamed: a concurrent run reads one whole pair or none.
    const draft = `${path}.${process.pid}.tmp`
    await writeFile(draft, JSON.stringify({ private: keys.private, public: keys.public }), { mode: 0o600 })
    await rename(draft, path)
  }
  const pair = JSON.parse(await readFile(path, 'utf8')) as { private: string; public: string }
  return pair
}
