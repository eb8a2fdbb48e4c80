import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { attachLab, ensureDefaultImage, startLab } from 'vitest-qemu'
import { writeCpio } from '../plugin/images/cpio.js'
import { initStage2 } from '../plugin/images/guest-init.js'

// An image of one's own that shows a login prompt on its console, the way Yocto and
// Buildroot images do: busybox getty on ttyS0 instead of a root shell, users in
// /etc/passwd and /etc/shadow (one with a SHA-512 crypt password, one with none), and a
// dropbear that takes passwords. Built from the default image's kernel and initramfs
// with an overlay appended; its stage-two init is the default one with dropbear's `-s`
// (keys only) left out. Refused credentials, on the console or over SSH, end the boot
// at once with the reason.

const project = mkdtempSync(join(tmpdir(), 'vq-login-image-'))
afterAll(() => rmSync(project, { recursive: true, force: true }))

const password = 'cor rect-horse'
const bridges = { lan: { subnet: '10.46.0.0/24' } }

async function buildImage(): Promise<string> {
  const keysOnly = '/usr/sbin/dropbear -R -s -p 22'
  if (!initStage2.includes(keysOnly)) throw new Error(`the default stage-two init no longer runs \`${keysOnly}\`: update this spec's overlay`)
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim()
  expect(hash).toMatch(/^\$6\$/)
  // Copied at once: the image cache keeps one build per architecture, and a build with
  // other boot scripts (another checkout sharing the cache) removes this one.
  const image = await ensureDefaultImage('x86_64')
  const initrd = readFileSync(image.initrd)
  copyFileSync(image.kernel, join(project, basename(image.kernel)))
  const overlay = writeCpio([
    { type: 'file', path: 'sbin/vq-init', data: initStage2.replace(keysOnly, '/usr/sbin/dropbear -R -p 22'), mode: 0o755 },
    { type: 'file', path: 'etc/inittab', data: 'ttyS0::respawn:/sbin/getty -L 0 ttyS0 vt100\n::ctrlaltdel:/sbin/reboot\n' },
    { type: 'file', path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\nvisitor:x:1001:1001::/home/visitor:/bin/sh\n' },
    { type: 'file', path: 'etc/shadow', data: `root:*:19000:0:99999:7:::\ntester:${hash}:19000:0:99999:7:::\nvisitor::19000:0:99999:7:::\n`, mode: 0o600 },
    { type: 'file', path: 'etc/group', data: 'root:x:0:\ntester:x:1000:\nvisitor:x:1001:\n' },
    { type: 'file', path: 'etc/profile', data: 'export PATH=/sbin:/bin:/usr/sbin:/usr/bin\n' },
    { type: 'dir', path: 'home' },
    { type: 'dir', path: 'home/tester' },
    { type: 'dir', path: 'home/visitor' },
  ])
  writeFileSync(join(project, 'initrd.cpio'), Buffer.concat([initrd, overlay]))
  return basename(image.kernel)
}

let kernel = ''
beforeAll(async () => {
  kernel = await buildImage()
}, 120_000)
const guest = (ip: string) => ({ bridge: 'lan', ip, kernel, initrd: 'initrd.cpio', bootTimeout: 30_000 })

// pgrep exits 1 when nothing matches (2 on a usage error, so the check cannot pass by accident).
const qemuOf = async (name: string) => {
  const found = await execa('pgrep', ['-af', '--', `-name guest=${name} `], { reject: false })
  return found.exitCode === 1 ? 'none' : `exit ${found.exitCode}: ${found.stdout}${found.stderr}`
}

test('a login prompt: the console logs in with user and password, or user alone; SSH logs in with a password', { timeout: 90_000 }, async () => {
  const lab = await startLab(
    {
      bridges,
      guests: {
        gated: { ...guest('10.46.0.2'), login: { user: 'tester', password }, ssh: { user: 'tester', password } },
        open: { ...guest('10.46.0.3'), login: { user: 'visitor' }, ssh: false },
      },
    },
    { root: project },
  )
  const handles = attachLab(lab.descriptor)
  try {
    const gated = handles.guest('gated')
    // Readiness went through the prompts: getty's, then login's.
    const transcript = await gated.serial.transcript()
    expect(transcript).toMatch(/gated login: /)
    expect(transcript).toMatch(/Password: /)
    // login turns the echo off after printing its prompt: the password is typed after that.
    expect(transcript).not.toContain(password)
    expect(await gated.serial.exec('id -un')).toEqual({ stdout: 'tester\n', stderr: '', exitCode: 0 })
    expect(await gated.serial.exec('echo "a  b"; exit 3')).toMatchObject({ stdout: 'a  b\n', exitCode: 3 })
    expect(await gated.serial.exec('echo after')).toMatchObject({ stdout: 'after\n', exitCode: 0 })

    // No key anywhere: dropbear and the client have only the password.
    expect(lab.descriptor.guests.find((g) => g.name === 'gated')?.ssh).toEqual({ user: 'tester', password, port: 22 })
    expect(await gated.ssh.exec('id -un')).toEqual({ stdout: 'tester\n', stderr: '', exitCode: 0 })
    expect(await gated.ssh.exec('echo out; echo err >&2; exit 3')).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 3 })

    const open = handles.guest('open')
    expect(await open.serial.transcript()).toMatch(/open login: /)
    expect(await open.serial.exec('id -un')).toEqual({ stdout: 'visitor\n', stderr: '', exitCode: 0 })
  } finally {
    handles.close()
    await lab.stop()
  }
})

test('a refused login fails readiness at once, naming the guest, the stage and the refusal', { timeout: 60_000 }, async () => {
  const started = Date.now()
  const error = await startLab(
    {
      bridges,
      guests: {
        wrong: { ...guest('10.46.0.4'), login: { user: 'tester', password: 'not the password' }, ssh: false },
        nopass: { ...guest('10.46.0.5'), login: { user: 'tester' }, ssh: false },
      },
    },
    { root: project },
  ).catch((caught: Error) => caught)
  const elapsed = Date.now() - started
  expect(error).toBeInstanceOf(Error)
  const message = String(error)
  expect(message).toMatch(/wrong: not ready at stage 'shell' after [\d.]+ s: the console refused the login as 'tester': Login incorrect/)
  expect(message).toMatch(/nopass: not ready at stage 'shell' after [\d.]+ s: the console asks for a password for 'tester' and login\.password is not set/)
  // Well before the 30 s shell stage would end a console that never shows a shell.
  expect(elapsed).toBeLessThan(20_000)
  expect(await qemuOf('wrong')).toBe('none')
  expect(await qemuOf('nopass')).toBe('none')
})

test('a refused SSH password fails the ssh stage within seconds, saying the login was refused', { timeout: 60_000 }, async () => {
  const started = Date.now()
  // resettable: the SSH stage is part of the boot (otherwise it runs when SSH is first used).
  const error = await startLab(
    { bridges, guests: { sshwrong: { ...guest('10.46.0.6'), login: { user: 'tester', password }, ssh: { user: 'tester', password: 'not the password' } } } },
    { root: project, resettable: true },
  ).catch((caught: Error) => caught)
  expect(String(error)).toMatch(
    /sshwrong: not ready at stage 'ssh' after [\d.]+ s: sshwrong: SSH refused the login as 'tester' \(password\), 3 times: All configured authentication methods failed/,
  )
  // Well before the 30 s SSH stage would end.
  expect(Date.now() - started).toBeLessThan(20_000)
  expect(await qemuOf('sshwrong')).toBe('none')
})
