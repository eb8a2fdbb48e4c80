import { connect, type Socket } from 'node:net'
import { DETACH_KEY_NAME, splitAtDetachKey } from '../common/detach-key.js'
import { chooseRunningLab, guestOf, runningLabs } from '../lab/running-labs.js'

// `npx vitest-qemu console <guest>`: this terminal on the guest's serial console, raw and
// both ways, through the supervisor's console socket. Ctrl-] detaches and leaves the
// guest and the lab running. Ends with 0 on detach, 1 when the lab goes away.

export async function attachConsole(args: { guest: string; run?: string }): Promise<number> {
  const lab = chooseRunningLab(runningLabs(), args.run)
  const guest = guestOf(lab, args.guest)
  const socket = await new Promise<Socket>((resolve, reject) => {
    const attempt = connect(guest.consoleSocket)
    attempt.once('connect', () => resolve(attempt))
    attempt.once('error', (error) => reject(new Error(`vitest-qemu: cannot attach to ${guest.name}'s console (${guest.consoleSocket}): ${error.message}`)))
  })
  const { stdin, stdout, stderr } = process
  const rows = stdout.rows || 24
  const cols = stdout.columns || 80
  socket.write(`${rows} ${cols}\n`)
  stderr.write(`attached to ${guest.name}'s serial console (lab ${lab.runId}); ${DETACH_KEY_NAME} detaches, the guest keeps running\r\n`)

  return new Promise<number>((resolve) => {
    const restore = () => {
      if (stdin.isTTY) stdin.setRawMode(false)
      stdin.pause()
    }
    let done = false
    const finish = (code: number, message: string) => {
      if (done) return
      done = true
      restore()
      socket.end()
      stderr.write(`\r\n${message}\n`)
      resolve(code)
    }
    socket.on('data', (data) => stdout.write(data))
    socket.on('close', () => finish(1, `${guest.name}'s console closed: the lab was stopped`))
    socket.on('error', () => {})
    if (stdin.isTTY) stdin.setRawMode(true)
    stdin.on('data', (data: Buffer) => {
      const { forward, detach } = splitAtDetachKey(data)
      if (forward.length > 0) socket.write(forward)
      if (detach) finish(0, `detached from ${guest.name}; the lab keeps running`)
    })
    // Input from a pipe or file: detach when it ends.
    stdin.on('end', () => finish(0, `detached from ${guest.name} (end of input); the lab keeps running`))
    stdin.resume()
  })
}
