import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'

// Packet captures inside the lab's namespace: tcpdump on a bridge or a tap, written to
// a pcap file under the run's log folder (readable by tshark and tcpdump), flushed per
// packet so a test can read it while it runs.

export class PacketCaptures {
  private readonly running = new Map<string, { child: ChildProcess; path: string }>()

  constructor(private readonly dir: string) {}

  start(name: string, iface: string, timeoutMs = 10_000): Promise<string> {
    if (!/^[A-Za-z0-9_.$-]{1,120}$/.test(name) || !/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) return Promise.reject(new Error(`capture: invalid name or interface`))
    if (this.running.has(name)) return Promise.reject(new Error(`capture ${name} is already running`))
    const path = join(this.dir, `${name}.pcap`)
    // setpriv: tcpdump dies with the supervisor, however the supervisor ends.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'tcpdump', '-i', iface, '-w', path, '-U', '-s', '0', '--immediate-mode'], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.running.set(name, { child, path })
    return new Promise((resolve, reject) => {
      let stderr = ''
      const timer = setTimeout(() => fail(new Error(`capture on ${iface}: tcpdump did not start within ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs)
      const fail = (error: Error) => {
        clearTimeout(timer)
        this.running.delete(name)
        child.kill('SIGKILL')
        reject(error)
      }
      child.on('error', (error) => fail(new Error(`capture on ${iface}: cannot run tcpdump (apt-get install tcpdump): ${error.message}`)))
      const onEarlyExit = (code: number | null) => fail(new Error(`capture on ${iface}: tcpdump exited (${code}): ${stderr.trim()}`))
      child.once('exit', onEarlyExit)
      let listening = false
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (!listening && /listening on/.test(stderr)) {
          listening = true
          clearTimeout(timer)
          child.off('exit', onEarlyExit)
          resolve(path)
        }
      })
    })
  }

  /** Stops a capture; tcpdump flushes and closes the file before this resolves. */
  async stop(name: string): Promise<void> {
    const capture = this.running.get(name)
    if (!capture) return
    this.running.delete(name)
    if (capture.child.exitCode !== null || capture.child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => capture.child.once('exit', () => resolve()))
    capture.child.kill('SIGINT')
    const timer = setTimeout(() => capture.child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((name) => this.stop(name)))
  }

  killAll(): void {
    for (const capture of this.running.values()) capture.child.kill('SIGKILL')
  }
}
