import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setPriority } from 'node:os'
import { shellQuote } from '../common/shell-quote.js'
import { runCommand } from '../common/run-command.js'
import type { GuestPlan } from '../config/lab-plan.js'
import { INCOMING_FD, type QemuLaunch, qemuCommand } from '../qemu/qemu-args.js'
import { commitMemoryImage, memoryImageDrafts, memoryImagePaths } from '../qemu/snapshot-memory.js'
import { rememberFileHash } from '../qemu/file-hash-memo.js'
import { migrationDone } from './guest-snapshot.js'
import { QmpClient } from './qmp-client.js'

// Makes a snapshot's memory image (snapshot-memory.ts) from its saved state, while the lab
// runs: a second QEMU of the same guest, its RAM a shared file (the image's `memory`),
// loads the state and saves it again without the RAM (`devices`). That QEMU runs at the
// lowest priority, in a network namespace of its own with taps of the guest's names (a
// saved network card needs a tap behind it), which go with it; it never runs the guest.
// Once the lab ends, one still being made gets the normal priority back where the process
// may raise it (root), since nothing of the lab competes any more and the run waits for it.

const MAKE_TIMEOUT_MS = 120_000
/** The making QEMU's priority while the lab runs: below the guests and the tests. */
const NICE = 19

export interface MemoryImageJob {
  guest: GuestPlan
  /** The guest's launch as booted (its paths are replaced here). */
  launch: QemuLaunch
  /** The snapshot's folder, and the SHA-256 of its state. */
  snapshotDir: string
  stateSha256: string
  /** A folder of the run for the QEMU's sockets and log. */
  scratch: string
}

/** Makes the image; resolves once its manifest is written. `signal` ends it (the lab stops): nothing is left. */
export async function makeMemoryImage(job: MemoryImageJob, signal: AbortSignal, onQemu: (pid: number) => void = () => {}): Promise<void> {
  const { guest, snapshotDir, scratch } = job
  const drafts = memoryImageDrafts(snapshotDir, `${process.pid}-${Date.now()}`)
  mkdirSync(scratch, { recursive: true })
  const launch: QemuLaunch = {
    ...job.launch,
    // Taps in its own namespace, whatever the lab's network is (host mode's helper needs the host's bridge).
    network: 'namespace',
    serialSocket: join(scratch, 's'),
    qmpSocket: join(scratch, 'q'),
    agent: job.launch.agent && { commandSocket: join(scratch, 'a'), controlSocket: join(scratch, 'c') },
    incoming: join(snapshotDir, 'state'),
    memory: { file: drafts.memory, shared: true },
    vmstate: undefined,
  }
  const { binary, args } = qemuCommand(guest, launch)
  const taps = guest.nics.map((nic) => `ip tuntap add ${shellQuote(nic.tap)} mode tap || exit 1`).join('; ')
  const script = `${taps}; exec setpriv --pdeathsig KILL -- ${[binary, ...args].map(shellQuote).join(' ')}`
  const state = openSync(launch.incoming!, 'r')
  let qemu: ChildProcess
  try {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe']
    stdio[INCOMING_FD] = state
    qemu = spawn('nice', ['-n', String(NICE), 'unshare', '--net', '--', 'sh', '-c', script], { stdio })
  } finally {
    closeSync(state)
  }
  if (qemu.pid !== undefined) onQemu(qemu.pid)
  let stderr = ''
  qemu.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)))
  const exited = new Promise<void>((resolve) => qemu.once('exit', () => resolve()))
  const qmp = new QmpClient(guest.name, launch.qmpSocket)
  const stop = () => qemu.kill('SIGKILL')
  signal.addEventListener('abort', stop, { once: true })
  try {
    const deadline = Date.now() + MAKE_TIMEOUT_MS
    await Promise.race([qmp.connect(deadline), exited.then(() => Promise.reject(new Error(`QEMU exited: ${stderr.trim()}`)))])
    // The whole state, RAM and all (saved without x-ignore-shared), into the shared file.
    await qmp.command('migrate-incoming', { uri: `fd:${INCOMING_FD}` })
    await migrationDone(qmp, deadline, 'loading the snapshot')
    signal.throwIfAborted()
    await qmp.command('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] })
    await qmp.command('migrate', { uri: `exec:cat > ${shellQuote(drafts.devices)}` })
    await migrationDone(qmp, deadline, 'saving the devices')
    qmp.close()
    stop()
    await exited
    signal.throwIfAborted()
    const sums = await runCommand('sha256sum', [drafts.memory, drafts.devices], { timeout: MAKE_TIMEOUT_MS })
    const [memorySha256, devicesSha256] = sums.stdout.trim().split('\n').map((line) => line.split(/\s+/)[0]!)
    const { memory, devices } = memoryImagePaths(snapshotDir)
    const memoryBytes = statSync(drafts.memory).size
    const devicesBytes = statSync(drafts.devices).size
    await rename(drafts.memory, memory)
    await rename(drafts.devices, devices)
    // The files' hashes for the test process, which checks them before a restore runs the guest
    // (128 MiB takes it half a second): known for these files, as they are now.
    const cache = dirname(dirname(snapshotDir))
    await rememberFileHash(memory, cache, memorySha256!)
    await rememberFileHash(devices, cache, devicesSha256!)
    await commitMemoryImage(snapshotDir, { stateSha256: job.stateSha256, memoryBytes, memorySha256: memorySha256!, devicesBytes, devicesSha256: devicesSha256! })
  } finally {
    signal.removeEventListener('abort', stop)
    qmp.close()
    stop()
    await exited
    rmSync(drafts.memory, { force: true })
    rmSync(drafts.devices, { force: true })
    rmSync(scratch, { recursive: true, force: true })
  }
}

/**
 * Memory images to make while the lab runs, `parallel` at a time. At the lab's end, those not
 * begun are dropped (a later run makes them) and those being made may finish within a grace.
 */
export class MemoryImageQueue {
  private readonly waiting: (() => Promise<void>)[] = []
  private readonly running = new Set<Promise<void>>()
  private readonly qemus = new Set<number>()
  private readonly ending = new AbortController()
  private closed = false

  constructor(
    private readonly parallel: number,
    private readonly onError: (job: MemoryImageJob, error: unknown) => void,
    private readonly onMade: (job: MemoryImageJob, ms: number) => void,
  ) {}

  add(job: MemoryImageJob): void {
    if (this.closed) return
    this.waiting.push(async () => {
      const started = Date.now()
      try {
        let pid: number | undefined
        await makeMemoryImage(job, this.ending.signal, (started) => this.qemus.add((pid = started))).finally(() => pid !== undefined && this.qemus.delete(pid))
        this.onMade(job, Date.now() - started)
      } catch (error) {
        if (!this.ending.signal.aborted) this.onError(job, error)
      }
    })
    this.pump()
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.parallel && this.waiting.length > 0) {
      const run = this.waiting.shift()!().finally(() => {
        this.running.delete(run)
        this.pump()
      })
      this.running.add(run)
    }
  }

  /** Drops what has not begun; lets what is being made finish within `graceMs` (0: ends it now). */
  async close(graceMs: number): Promise<void> {
    this.closed = true
    this.waiting.length = 0
    for (const pid of this.qemus) {
      try {
        setPriority(pid, 0)
      } catch {
        // Not ours to raise (not root): it finishes at its priority, within the grace.
      }
    }
    const timer = setTimeout(() => this.ending.abort(), graceMs)
    if (graceMs <= 0) this.ending.abort()
    await Promise.allSettled([...this.running])
    clearTimeout(timer)
  }
}
