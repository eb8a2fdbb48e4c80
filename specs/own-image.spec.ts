import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { afterAll, expect, test } from 'vitest'
import { defaultImagePaths, startLab } from 'vitest-qemu'
import { attachLab } from 'vitest-qemu/test'
import { writeCpio } from '../plugin/images/cpio.js'

// An image of one's own, booted the way docs/own-images.md describes: `kernel` and
// `initrd` given, so no per-guest overlay is added; the address comes from the kernel's
// `ip=` argument, the shell from the console without a login, and SSH authenticates
// with the `privateKey` file named in the config. The default image's kernel and
// initramfs stand in for such an image: its init reads `ip=` when it finds no overlay,
// and its dropbear takes keys only (`-s`), from /root/.ssh/authorized_keys, added here;
// it starts the guest agent script as an own image would, and `agent: true` gives it the ports.

const project = mkdtempSync(join(tmpdir(), 'vq-own-image-'))
afterAll(() => rmSync(project, { recursive: true, force: true }))

test('own kernel and initrd: ip= configures eth0, the console shell answers, SSH logs in with the configured key', { timeout: 90_000 }, async () => {
  const keys = ssh2.utils.generateKeyPairSync('ed25519')
  writeFileSync(join(project, 'id_ed25519'), keys.private, { mode: 0o600 })
  const image = defaultImagePaths('x86_64')
  const withKey = writeCpio([
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'root/.ssh', mode: 0o700 },
    { type: 'file', path: 'root/.ssh/authorized_keys', data: `${keys.public.trim()}\n`, mode: 0o600 },
  ])
  writeFileSync(join(project, 'initrd.cpio'), Buffer.concat([readFileSync(image.initrd), withKey]))

  const lab = await startLab(
    {
      bridges: { lan: { subnet: '10.45.0.0/24' } },
      guests: { own: { bridge: 'lan', ip: '10.45.0.2', kernel: image.kernel, initrd: 'initrd.cpio', ssh: { user: 'root', privateKey: 'id_ed25519' }, agent: true, bootTimeout: 30_000 } },
    },
    { root: project },
  )
  const handles = attachLab(lab.descriptor)
  try {
    const own = handles.guest('own')
    expect(await own.ssh.exec('ip -4 -o addr show eth0')).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('inet 10.45.0.2/24') })
    // The host name is the ip= argument's own field: the guest's name.
    expect((await own.ssh.exec('hostname')).stdout).toBe('own\n')
    expect((await own.serial.exec('echo serial works')).stdout).toBe('serial works\n')
    const mark = own.commands.mark()
    expect(await own.exec('echo agent works')).toEqual({ stdout: 'agent works\n', stderr: '', exitCode: 0 })
    expect(own.commands.since(mark)).toMatch(/^\[[\d:.]+\] agent \$ echo agent works\n/)
  } finally {
    handles.close()
    await lab.stop()
  }
})
