import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process'
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../common/deadline.js'
import type { LoginConfig } from '../config/config.js'
import type { GuestPlan, NicPlan } from '../config/lab-plan.js'
import { bringToPresent, resumeRestoredGuest } from './guest-snapshot.js'
import { debug } from '../common/log.js'
import { INCOMING_FD, incomingWithoutRam, qemuCommand } from '../qemu/qemu-args.js'
import { GuestAgent } from './guest-agent.js'
import { type ConsoleStep, fileSteps, networkSteps, serviceReadyCommand, serviceStartCommand, setupSteps } from './console-configuration.js'
import { QmpClient } from './qmp-client.js'
import { SerialConsole } from './serial-console.js'
import { LOGIN_ANSWER, LOGIN_PROMPT, LOGIN_REFUSED, PASSWORD_PROMPT, refusalReason } from './login-prompts.js'
import { readableConsole } from '../protocol/readable-console.js'
import type { GuestFiles, Stage } from '../protocol/supervisor-protocol.js'
import type { QemuLaunch } from '../qemu/qemu-args.js'

// One guest inside the supervisor: its QEMU process, the console and QMP it owns, and
// the staged wait until it is ready. A kernel panic or QEMU exiting ends the wait at
// once with the reason; every stage has its own deadline.

export interface StageTimeouts {
  qemu: number
  console: number
  /** Loading a snapshot's state (restored guests only). */
  restore: number
  shell: number
  ssh: number
}

export interface ReadyHooks {
  onStage: (stage: Stage, elapsedMs: number) => void
  /**
   * Runs once a cold-booted guest is ready (saving a snapshot): after SSH has answered,
   * so the SSH server's host key, made on first use, is part of what is saved.
   */
  afterReady?: () => Promise<void>
  /**
   * Leave the SSH stage out of the boot: the lab is ready once the shell answers, and the
   * stage runs when SSH is first used (`whenSshReady`).
   */
  sshInBackground?: boolean
  /** A restored guest runs only once this resolves (its state's checksum matched). */
  beforeResume?: Promise<void>
  /** A restored guest's first command also translates what tests run first (guest-snapshot.ts: bringToPresent). */
  warmUp?: boolean
  /** Resolves once the lab's DHCP server leased the NIC its address (own images; the default image's init waits itself). */
  waitForLease?: (nic: NicPlan, deadline: number, signal: AbortSignal) => Promise<void>
}

/** How long to wait, after the credentials, for login's answer before probing anyway. */
const LOGIN_DECISION_MS = 10_000
const PASSWORD_ECHO_SETTLE_MS = 300
/** How long a call that failed waits for QEMU's exit to be known, so that it can name it. */
const EXIT_SETTLE_MS = 1000

/** A call on a guest whose QEMU is gone; `code` lets the worker tell it from a channel that is merely unavailable. */
export class GuestExitedError extends Error {
  readonly code = 'guest-exited'
  constructor(message: string) {
    super(message)
    this.name = 'GuestExitedError'
  }
}

export class GuestProcess {
  readonly console: SerialConsole
  readonly qmp: QmpClient
  /** The private command channel of default-image guests. */
  readonly agent?: GuestAgent
  private child?: ChildProcess
  private readonly failure = new AbortController()
  private qemuStderr = ''
  /** Why QEMU is gone, once it is (however it ended): every call on this guest fails with it at once. */
  exitReason?: string
  private readonly exitListeners = new Set<(reason: string) => void>()
  readonly stageMs: Partial<Record<Stage, number>> = {}
  /**
   * Settles when the guest's SSH server answered (or never will); at once for guests whose
   * SSH stage was part of their boot, or that have no SSH.
   */
  whenSshReady: () => Promise<void> = () => Promise.resolve()
  private readonly log

  constructor(
    readonly plan: GuestPlan,
    readonly files: GuestFiles,
    readonly launch: QemuLaunch,
    /** Told when one of the guest's services exits (they are never restarted). */
    private readonly onServiceExit?: (service: string, code: number, lastOutput: string) => void,
  ) {
    this.console = new SerialConsole(plan.name, files.serialSocket, files.transcript)
    this.qmp = new QmpClient(plan.name, files.qmpSocket)
    if (launch.agent) this.agent = new GuestAgent(plan.name, launch.agent)
    this.log = debug(`guest:${plan.name}`)
  }

  get restoring(): boolean {
    return this.launch.incoming !== undefined
  }

  get pid(): number {
    return this.child?.pid ?? -1
  }

  start(): void {
    const { binary, args } = qemuCommand(this.plan, this.launch)
    this.log(`${binary} ${args.join(' ')}`)
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe']
    // A restore's saved state, open for QEMU as INCOMING_FD (qemu-args.ts); this process lets
    // go of it at once. Should it not open, QEMU finds no such descriptor and fails, as a
    // state it cannot load does (the guest then boots cold).
    const incoming = this.launch.incoming === undefined ? undefined : openStateFile(this.launch.incoming)
    if (incoming !== undefined) stdio[INCOMING_FD] = incoming
    // setpriv: QEMU gets SIGKILL when the supervisor dies, however it dies.
    try {
      this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio })
    } finally {
      if (incoming !== undefined) closeSync(incoming)
    }
    const log = createWriteStream(this.files.qemuLog)
    this.child.stdout!.pipe(log)
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.qemuStderr += chunk.toString()
      log.write(chunk)
    })
    this.child.on('error', (error) => this.fail(`could not start ${binary}: ${error.message}`))
    this.child.on('exit', (code, signal) => {
      const exit = `QEMU exited (${signal ?? `code ${code}`})${this.qemuStderr.trim() ? `: ${this.qemuStderr.trim()}` : ''}`
      this.fail(exit)
      const lastLines = readableConsole(this.console.tail(50)).split('\n').slice(-10).join('\n')
      this.exitReason = `${this.plan.name}: ${exit}; the console's last lines (${this.files.transcript}):\n${indent(lastLines)}`
      for (const listener of this.exitListeners) listener(this.exitReason)
      this.exitListeners.clear()
    })
    let serviceScan = 0
    this.console.onText = () => {
      const recent = Math.max(0, this.console.position - 4096)
      const panic = /Kernel panic - not syncing[^\r\n]*/.exec(this.console.slice(recent))
      if (panic) this.fail(panic[0])
      // A service that exits is reported once (the report ends with its own end line).
      if (this.plan.services.length === 0) return
      const from = Math.max(serviceScan, recent)
      const text = this.console.slice(from)
      for (const report of text.matchAll(/vitest-qemu-guest: service (\S+) exited with (\d+); its last output:\r?\n([\s\S]*?)vitest-qemu-guest: end of service output/g)) {
        serviceScan = from + report.index + report[0].length
        this.onServiceExit?.(report[1]!, Number(report[2]), report[3]!.replace(/\r/g, '').trimEnd())
      }
    }
  }

  /** Calls `listener` once QEMU has exited (at once if it has). */
  onExit(listener: (reason: string) => void): void {
    if (this.exitReason) listener(this.exitReason)
    else this.exitListeners.add(listener)
  }

  /**
   * `work`, unless QEMU exits first: then a GuestExitedError with the reason and the console's
   * last lines, the moment it exits, not when the work's own timeout ends.
   */
  async unlessExited<T>(work: () => Promise<T>): Promise<T> {
    if (this.exitReason) throw new GuestExitedError(this.exitReason)
    let listener!: (reason: string) => void
    const exited = new Promise<never>((_, reject) => {
      listener = (reason) => reject(new GuestExitedError(reason))
      this.exitListeners.add(listener)
    })
    try {
      return await Promise.race([work(), exited])
    } catch (error) {
      // The channel usually notices first (its socket closed), QEMU's exit a moment later:
      // that, not a closed socket, is the reason to give.
      if (error instanceof GuestExitedError || !this.dying()) throw error
      const exit = await Promise.race([exited.catch((exitError: Error) => exitError), sleep(EXIT_SETTLE_MS)])
      throw exit instanceof GuestExitedError ? exit : error
    } finally {
      this.exitListeners.delete(listener)
    }
  }

  /** Whether QEMU has ended though its exit is not yet reported (a zombie, or gone): cheap, read from /proc. */
  private dying(): boolean {
    if (!this.child?.pid) return false
    try {
      // The state follows the command name's closing parenthesis: Z zombie, X dead.
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'latin1')
      return /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
    } catch {
      return true
    }
  }

  private fail(reason: string): void {
    if (!this.failure.signal.aborted) this.failure.abort(new Error(reason))
  }

  /** Waits through the boot stages; throws an error naming the stage, the time and the console's last lines. */
  async waitReady(timeouts: StageTimeouts, privateKey: string, hooks: ReadyHooks): Promise<void> {
    const started = Date.now()
    let stage: Stage = 'qemu'
    const within = async <T>(ms: number, work: (deadline: number) => Promise<T>): Promise<T> => {
      // The work's own deadline lies a little after the stage's, so the stage's timer, with
      // its one message naming the stage, is always what ends a stage that makes no progress.
      const deadline = Date.now() + ms + 1000
      const signal = this.failure.signal
      if (signal.aborted) throw signal.reason
      return await new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        const timer = setTimeout(() => reject(new TimeoutError(`no progress within ${ms} ms`)), ms)
        work(deadline).then(resolve, reject).finally(() => {
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
        })
      })
    }
    const done = (name: Stage) => {
      this.stageMs[name] = Date.now() - started
      hooks.onStage(name, Date.now() - started)
    }
    const failure = (error: unknown) => {
      const elapsed = ((Date.now() - started) / 1000).toFixed(1)
      return new Error(
        `${this.plan.name}: not ready at stage '${stage}' after ${elapsed} s: ${(error as Error).message}\n` +
          `last console lines (${this.files.transcript}):\n${indent(readableConsole(this.console.tail(200)).split('\n').slice(-30).join('\n'))}`,
      )
    }
    try {
      await within(timeouts.qemu, async (deadline) => {
        await this.console.attach(deadline)
        await this.qmp.connect(deadline)
        await this.agent?.attach(deadline)
      })
      done('qemu')
      if (this.restoring) {
        // A restored guest prints nothing until asked: it was saved sitting at its shell.
        stage = 'restore'
        await within(timeouts.restore, (deadline) => resumeRestoredGuest(this.qmp, deadline, hooks.beforeResume, incomingWithoutRam(this.launch)))
        done('restore')
        stage = 'shell'
        await within(timeouts.shell, (deadline) => bringToPresent(this, deadline - Date.now(), hooks.warmUp))
        done('shell')
        // SSH was listening when the snapshot was taken; connections are opened when used.
        return
      }
      stage = 'console'
      await within(timeouts.console, (deadline) => this.console.expect(/[\s\S]/, { from: 0, timeout: deadline - Date.now(), signal: this.failure.signal }))
      done('console')
      stage = 'shell'
      await within(timeouts.shell, async (deadline) => {
        await this.waitForShell(deadline)
        const first = this.plan.nics[0]!
        if (!this.plan.defaultImage && first.dhcp && hooks.waitForLease) await hooks.waitForLease(first, deadline, this.failure.signal)
        if (!this.plan.defaultImage && this.plan.configureOverConsole) await this.configureOverConsole(deadline)
      })
      done('shell')
      if (this.plan.ssh) {
        stage = 'ssh'
        const ssh = this.plan.ssh
        const nic = this.plan.nics[0]!
        // The config names a key file; ssh2 wants the key itself.
        const key = this.plan.defaultImage ? privateKey : ssh.privateKey && (await readFile(ssh.privateKey, 'utf8'))
        const sshStage = () =>
          within(timeouts.ssh, async (deadline) => {
            // ssh2 loads when first needed, not before the guests start.
            const { SshSession } = await import('../ssh/ssh-session.js')
            const session = await SshSession.connect(
              this.plan.name,
              () => openTcp(nic.ip, ssh.port ?? 22),
              { user: ssh.user, password: ssh.password, privateKey: key },
              deadline,
            )
            session.close()
          }).then(() => done('ssh'), (error) => Promise.reject(failure(error)))
        if (hooks.sshInBackground) {
          // Checked when first needed: a handshake now would compete for the CPU with the tests' start.
          let checked: Promise<void> | undefined
          this.whenSshReady = () => (checked ??= sshStage())
          return
        }
        await sshStage()
      }
      await hooks.afterReady?.()
    } catch (error) {
      throw (error as Error).message.startsWith(`${this.plan.name}: not ready at stage`) ? error : failure(error)
    }
  }

  /**
   * Own images: the network beyond the kernel's `ip=`, then files, setup commands and
   * services, each step one command over the console (console-configuration.ts).
   */
  private async configureOverConsole(deadline: number): Promise<void> {
    const from = this.console.position
    const run = async (step: ConsoleStep) => {
      const result = await this.console.exec(step.command, Math.max(1000, deadline - Date.now()))
      if (result.exitCode === 0) return
      const output = Buffer.concat([result.stdout, result.stderr]).toString().replace(/\r/g, '').trimEnd() || '(no output)'
      if (step.setup) throw new Error(`setup command ${step.setup.index} (\`${step.setup.command}\`) failed with exit ${result.exitCode}:\n${output}`)
      throw new Error(`configuring the image over its console: ${step.what} failed with exit ${result.exitCode}:\n${output}`)
    }
    for (const step of [...networkSteps(this.plan), ...fileSteps(this.plan.files), ...setupSteps(this.plan.setup)]) await run(step)
    for (const service of this.plan.services) await run({ what: `starting service ${service.name}`, command: serviceStartCommand(service) })
    for (const service of this.plan.services) {
      const ready = serviceReadyCommand(service)
      while (ready) {
        const exited = new RegExp(`vitest-qemu-guest: service ${service.name} exited with (\\d+); its last output:\\r?\\n([\\s\\S]*?)vitest-qemu-guest: end of service output`).exec(this.console.slice(from))
        if (exited) throw new Error(`service ${service.name} exited with ${exited[1]} before the guest was ready; its last output:\n${exited[2]!.replace(/\r/g, '').trimEnd() || '(none)'}`)
        if ((await this.console.exec(ready, Math.max(1000, deadline - Date.now()))).exitCode === 0) break
        if (Date.now() > deadline) throw new TimeoutError(`service ${service.name} was not ready in time`)
        await sleep(250)
      }
    }
  }

  private async waitForShell(deadline: number): Promise<void> {
    const { login } = this.plan
    if (this.plan.defaultImage) {
      // Ready, or a setup command that failed: its number, exit code and output name the cause.
      const { match } = await this.console.expect(/vitest-qemu-guest: ready|vitest-qemu-guest: no DHCP lease on \S+ within \d+ s|vitest-qemu-guest: (setup \d+ failed|service \S+ exited) with (exit )?\d+; its (last )?output:\r?\n[\s\S]*?vitest-qemu-guest: end of (setup|service) output/, {
        from: 0,
        timeout: deadline - Date.now(),
        signal: this.failure.signal,
      })
      const noLease = /no DHCP lease on (\S+) within (\d+) s/.exec(match)
      if (noLease) throw new Error(`DHCP: ${noLease[1]} got no lease from the lab's DHCP server within ${noLease[2]} s (its log is dhcp-<bridge>.log in the run's log folder)`)
      const failed = /setup (\d+) failed with exit (\d+); its output:\r?\n([\s\S]*?)vitest-qemu-guest: end/.exec(match)
      const exited = /service (\S+) exited with (\d+); its last output:\r?\n([\s\S]*?)vitest-qemu-guest: end/.exec(match)
      if (exited) {
        throw new Error(`service ${exited[1]} exited with ${exited[2]} before the guest was ready; its last output:\n${exited[3]!.replace(/\r/g, '').trimEnd() || '(none)'}`)
      }
      if (failed) {
        const command = this.plan.setup[Number(failed[1]) - 1] ?? `#${failed[1]}`
        throw new Error(`setup command ${Number(failed[1])} (\`${command}\`) failed with exit ${failed[2]}:\n${failed[3]!.replace(/\r/g, '').trimEnd() || '(no output)'}`)
      }
      // Its init says `ready` right before it starts the shell; the console is set up when first used.
      this.console.deferSetup()
      return
    } else if (login) {
      await this.console.expect(LOGIN_PROMPT, { from: 0, timeout: deadline - Date.now(), signal: this.failure.signal })
      let typed = this.console.position
      this.console.send(`${login.user}\n`)
      if (login.password !== undefined) {
        const waitMs = Math.min(10_000, deadline - Date.now())
        await this.console.expect(PASSWORD_PROMPT, { from: typed, timeout: waitMs, signal: this.failure.signal }).catch((error: Error) => {
          if (!(error instanceof TimeoutError)) throw error
          throw new TimeoutError(`no password prompt within ${waitMs} ms after typing the user name '${login.user}' at the login prompt (login.password is set)`)
        })
        // login prints its prompt before it turns the echo off: a password typed at once
        // can be echoed onto the console, and so into its log.
        await sleep(PASSWORD_ECHO_SETTLE_MS)
        typed = this.console.position
        this.console.send(`${login.password}\n`)
      }
      await this.loggedIn(login, typed, deadline)
      return
    }
    await this.probeShell(deadline)
  }

  /**
   * After the credentials are typed: a shell, or a refusal, which ends the stage at once
   * with what the console said. Nothing is typed until login has answered (the shell's
   * banner or prompt, or a few seconds pass): typed text would be read as the next user
   * name, and a probe's Ctrl-C on timeout would end a login still waiting out its failure
   * delay (3 s for busybox and shadow) before it prints "Login incorrect".
   */
  private async loggedIn(login: LoginConfig, from: number, deadline: number): Promise<void> {
    const settled = new AbortController()
    const signal = AbortSignal.any([this.failure.signal, settled.signal])
    const refused = this.console.expect(LOGIN_REFUSED, { from, timeout: Math.max(0, deadline - Date.now()), signal }).then(
      ({ match }) => Promise.reject(new Error(refusalReason(match, login))),
      // The stage's own deadline, or the guest's failure, ends the probes too, and they say why.
      () => new Promise<never>(() => {}),
    )
    const decideBy = Math.min(Date.now() + LOGIN_DECISION_MS, deadline)
    const left = () => Math.max(0, decideBy - Date.now())
    // login's line break ends the line of the credentials (and their echo); any line after
    // it but a kernel message or a refusal is login's answer.
    const answered = this.console
      .expect(/\n/, { from, timeout: left(), signal })
      .then(({ end }) => this.console.expect(LOGIN_ANSWER, { from: end, timeout: left(), signal }))
      .catch(() => undefined)
    try {
      await Promise.race([answered, refused])
      // The answer's line may be a refusal that has not arrived whole.
      await Promise.race([sleep(200), refused])
      await Promise.race([this.probeShell(deadline, settled.signal), refused])
    } finally {
      settled.abort()
    }
  }

  /** The shell answers on the console; set it up for framed commands (echo off, the helper). */
  private probeShell(deadline: number, stop?: AbortSignal): Promise<void> {
    return this.console.probe(deadline, { stop, failed: this.failure.signal })
  }

  /** QMP quit, then SIGKILL; the console is closed first so QEMU cannot block writing to it. */
  async stop(timeoutMs = 3000): Promise<void> {
    const child = this.child
    this.console.close()
    this.agent?.close()
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    this.qmp.command('quit').catch(() => {})
    const timer = sleep(timeoutMs).then(() => child.kill('SIGKILL'))
    await Promise.race([exited, timer])
    child.kill('SIGKILL')
    await exited
    this.qmp.close()
  }

  /** Ends QEMU at once (its state is of no further use) and waits until it is gone, so its tap is free again. */
  async terminate(): Promise<void> {
    const child = this.child
    this.console.close()
    this.agent?.close()
    this.qmp.close()
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }

  kill(): void {
    this.child?.kill('SIGKILL')
  }
}

/** A TCP connection that fails after `timeoutMs` rather than waiting out the kernel's SYN retries. */
export function openTcp(host: string, port: number, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

function indent(text: string): string {
  return text.split('\n').map((line) => `  | ${line}`).join('\n')
}

function openStateFile(path: string): number | undefined {
  try {
    return openSync(path, 'r')
  } catch {
    return undefined
  }
}
