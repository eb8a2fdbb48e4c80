import { readFile } from 'node:fs/promises'
import { openForward } from '../protocol/forward-client.js'
import { constants } from 'node:os'
import ssh2, { type ClientChannel } from 'ssh2'
import type { GuestDescriptor } from '../protocol/lab-descriptor.js'
import { chooseRunningLab, guestOf, runningLabs } from '../lab/running-labs.js'

// `npx vitest-qemu ssh <guest> [-- command]`: a shell on the guest with a pseudo-terminal
// of this terminal's size (raw mode, resized with it), or one command without one, as
// OpenSSH does. It reaches the guest through the lab's forwarding socket, with the
// run's key. Ends with the remote exit status (128 + signal number when killed by a
// signal), 255 when the connection fails, as OpenSSH's ssh does.

export interface SshArgs {
  guest: string
  run?: string
  /** A command to run instead of a shell, words joined by spaces (as OpenSSH does). */
  command?: string
}

export async function sshToGuest(args: SshArgs): Promise<number> {
  const lab = chooseRunningLab(runningLabs(), args.run)
  const guest = guestOf(lab, args.guest)
  const { ssh } = guest
  if (!ssh) throw new Error(`vitest-qemu: ${guest.name} has no SSH (ssh: false in the config); use npx vitest-qemu console ${guest.name}`)
  let client: ssh2.Client
  try {
    client = await connectSsh(guest, ssh)
  } catch (error) {
    process.stderr.write(`vitest-qemu: no SSH connection to ${guest.name}: ${(error as Error).message}\n`)
    return 255
  }
  try {
    const { stdin, stdout } = process
    const interactive = args.command === undefined
    const window = { term: process.env.TERM || 'xterm', rows: stdout.rows || 24, cols: stdout.columns || 80 }
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      const done = (error: Error | undefined, opened: ClientChannel) => (error ? reject(error) : resolve(opened))
      if (interactive) client.shell(window, done)
      else client.exec(args.command!, done)
    })
    const raw = interactive && stdin.isTTY
    if (raw) {
      stdin.setRawMode(true)
      stdout.on('resize', () => channel.setWindow(stdout.rows, stdout.columns, 0, 0))
    }
    return await new Promise<number>((resolve) => {
      let status = 255
      channel.on('exit', (code: number | null, signal?: string) => {
        status = code ?? 128 + (constants.signals[`SIG${signal}` as keyof typeof constants.signals] ?? 0)
      })
      channel.on('close', () => {
        if (raw) stdin.setRawMode(false)
        stdin.pause()
        resolve(status)
      })
      channel.pipe(stdout, { end: false })
      channel.stderr.pipe(process.stderr, { end: false })
      stdin.on('data', (data) => channel.write(data))
      stdin.on('end', () => channel.end())
      stdin.resume()
    })
  } finally {
    client.end()
  }
}

async function connectSsh(guest: GuestDescriptor, ssh: Exclude<GuestDescriptor['ssh'], false>): Promise<ssh2.Client> {
  const privateKey = ssh.privateKeyPath ? await readFile(ssh.privateKeyPath, 'utf8') : undefined
  const sock = await openForward(guest.forwardSocket, ssh.port)
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client()
    client.once('ready', () => resolve(client))
    client.once('error', reject)
    client.connect({
      sock,
      username: ssh.user,
      password: ssh.password,
      privateKey,
      // The guest's host key is made at each boot; the lab's own socket is what identifies the guest.
      hostVerifier: () => true,
      readyTimeout: 20_000,
    })
  })
}
