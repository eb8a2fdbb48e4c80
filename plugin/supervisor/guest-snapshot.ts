import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../common/deadline.js'
import type { QmpClient } from './qmp-client.js'
import type { SerialConsole } from './serial-console.js'
import { AgentUnavailableError, type GuestAgent } from './guest-agent.js'
import type { ByteExecResult } from '../protocol/exec-result.js'
import { shellQuote } from '../common/shell-quote.js'
import { runCommand } from '../common/run-command.js'
import { INCOMING_FD } from '../qemu/qemu-args.js'

// Saving a running guest's state through QMP, and bringing a restored one back to the
// present. QEMU 7.2 has no file: migration target, so the state goes through `cat`.
// A guest whose memory is a file of its own (qemu-args.ts) is saved as two files: the
// state without the memory (QEMU's x-ignore-shared capability), and a sparse copy of the
// memory file, both while the guest is paused. A restore then maps that copy instead of
// reading 60 MB through the state: it reads only the pages the guest touches (a restore by
// hand answered on its console 190 ms after QEMU's start against 260 ms; second runs of the
// seed lab took 1.60 s against 1.82 s, and 1.61 against 1.72 s, medians of 10 and 8
// alternating runs on a busy host).

interface MigrationStatus {
  status: string
  'error-desc'?: string
}

/**
 * Pauses the guest, writes its whole state to `path`, and lets it run again. With `memory`
 * (its shared memory file, and where its copy goes) the state leaves the memory out.
 */
export async function saveGuestState(qmp: QmpClient, path: string, deadline: number, memory?: { file: string; copy: string }): Promise<void> {
  await qmp.command('stop')
  try {
    // Paused, nothing changes while the state is written: one pass, no bandwidth limit.
    await qmp.command('migrate-set-parameters', { 'max-bandwidth': 1e12 })
    if (memory) await ignoreSharedMemory(qmp, true)
    try {
      await qmp.command('migrate', { uri: `exec:cat > ${shellQuote(path)}` })
      await migrationDone(qmp, deadline, 'saving the guest state')
    } finally {
      // A reset point saved later (savevm) must hold the memory.
      if (memory) await ignoreSharedMemory(qmp, false)
    }
    // Still paused: the copy is the memory the state was saved with. Its zeroed pages stay holes.
    if (memory) await runCommand('cp', ['--sparse=always', memory.file, memory.copy], { timeout: Math.max(1000, deadline - Date.now()) })
  } finally {
    await qmp.command('cont')
  }
}

function ignoreSharedMemory(qmp: QmpClient, state: boolean): Promise<unknown> {
  return qmp.command('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state }] })
}

/** The name of a guest's reset point among the internal snapshots of its vmstate file (qemu-args.ts). */
const RESET_POINT = 'vq-reset'

/** Saves the running guest as its reset point inside QEMU (it pauses while it is written). */
export function saveResetPoint(qmp: QmpClient, timeoutMs: number): Promise<void> {
  return humanMonitor(qmp, `savevm ${RESET_POINT}`, timeoutMs)
}

/** Brings the running guest back to its reset point, in the same QEMU: no new process, no new connections. */
export function loadResetPoint(qmp: QmpClient, timeoutMs: number): Promise<void> {
  return humanMonitor(qmp, `loadvm ${RESET_POINT}`, timeoutMs)
}

/** The monitor's savevm and loadvm, each one command that returns when done (QMP's own are jobs): text back, empty when all went well. */
async function humanMonitor(qmp: QmpClient, line: string, timeoutMs: number): Promise<void> {
  const output = await qmp.command('human-monitor-command', { 'command-line': line }, timeoutMs)
  if (typeof output === 'string' && output.trim()) throw new Error(`${line}: ${output.trim()}`)
}

/**
 * Waits until a guest started with `-incoming` has loaded its state, then lets it run.
 * @param beforeResume must resolve before the guest runs (checking the state's checksum).
 * @param withoutMemory the state leaves the memory to the guest's memory file: QEMU waits
 *   (`-incoming defer`) to be told so, and then to read the state from INCOMING_FD.
 */
export async function resumeRestoredGuest(qmp: QmpClient, deadline: number, beforeResume?: Promise<void>, withoutMemory = false): Promise<void> {
  if (withoutMemory) {
    // Left on afterwards: it leaves out only memory in shared files, and this guest's is private.
    await ignoreSharedMemory(qmp, true)
    await qmp.command('migrate-incoming', { uri: `fd:${INCOMING_FD}` })
  }
  await migrationDone(qmp, deadline, 'loading the saved state')
  await beforeResume
  // The state was saved paused, so the guest comes back paused until told to go on.
  await qmp.command('cont')
}

async function migrationDone(qmp: QmpClient, deadline: number, what: string): Promise<void> {
  for (;;) {
    const migration = (await qmp.command('query-migrate')) as MigrationStatus
    if (migration.status === 'completed') return
    if (migration.status === 'failed' || migration.status === 'cancelled') {
      throw new Error(`${what} failed${migration['error-desc'] ? `: ${migration['error-desc']}` : ''}`)
    }
    if (Date.now() > deadline) throw new TimeoutError(`${what} did not finish in time (migration status: ${migration.status || 'none'})`)
    await sleep(10)
  }
}

/**
 * Waits (up to about 3 s) until the guest holds no TCP connection on `port` other than
 * its listener and TIME_WAIT: the readiness check's SSH session has just been closed, and
 * a state saved while the guest's side still closes it would, in every later run, send
 * its FIN to a bridge that no longer knows it (stray packets in every capture).
 */
export async function waitForClosedConnections(console: SerialConsole, port: number, timeoutMs: number): Promise<void> {
  await console.exec(closedConnectionsCommand(port), timeoutMs)
}

/** A shell loop over /proc/net/tcp{,6}: a local `port` in any state but LISTEN (0A) or TIME_WAIT (06). */
export function closedConnectionsCommand(port: number): string {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  const busy = `':${hex} [0-9A-F]+:[0-9A-F]{4} 0[1-57-9B]'`
  return `i=0; while [ $i -lt 30 ] && cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qE ${busy}; do sleep 0.1; i=$((i+1)); done; true`
}

/**
 * A guest that was paused or restored has a clock from the past and the entropy pool
 * of every other copy of the same snapshot: set the clock to the host's and stir fresh
 * randomness into the pool. The kernel's generator takes it up at its next reseed (a
 * few seconds on a freshly booted kernel); a kernel with the VM generation ID driver
 * would reseed at once, Debian's cloud kernels have none.
 *
 * Through the agent where the guest has one, the channel tests' commands take. After a
 * restore or a reset TCG translates the guest's code anew, and a test's first command
 * ran at a fifth of its speed (a first `toReach` 80 ms, the next 17 ms): with `warmUp`
 * the command also pings the loopback once, so that the agent's shell, a program's start
 * and the ping are translated here, in every guest at once, not in the test, one guest
 * after the other. That pays only while the guests have a core each; beyond, it is work
 * taken from the guests' restores (16 guests on two cores: lab ready 5.1 s with it, 4.2 s
 * without). Without an agent (or should it fail), over the console.
 */
export async function bringToPresent(guest: { console: SerialConsole; agent?: GuestAgent }, timeoutMs: number, warmUp = false): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const command = () => `date -s @${Math.round(Date.now() / 1000)} >/dev/null && echo ${randomBytes(64).toString('hex')} > /dev/urandom && echo vq-now`
  let result: ByteExecResult | undefined
  if (guest.agent?.available) {
    try {
      const agentCommand = warmUp ? `${command()}; ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1; true` : command()
      result = await guest.agent.exec(agentCommand, timeoutMs)
      // In the console's transcript too, where a reader of a restored guest's log looks for it.
      guest.console.noteCommand(agentCommand, 'agent')
    } catch (error) {
      if (!(error instanceof AgentUnavailableError)) throw error
    }
  }
  // One round trip; the first exec on a new console also checks that the helper is there.
  result ??= await guest.console.exec(command(), Math.max(1000, deadline - Date.now()))
  const stdout = result.stdout.toString()
  if (!stdout.includes('vq-now')) throw new Error(`could not set the guest's clock: ${stdout.trim() || `exit ${result.exitCode}`}`)
}

