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

// What the default image's init does from its overlay, an own image gets over its console
// once its shell answers: the NICs after the first, routes, forwarding, then files, setup
// and services. `router` and `far` are own images (the default image's kernel and
// initramfs without an overlay, as above); `client` is a default-image guest.
test('own image: NICs after the first, routes, forwarding, files, setup and services come over the console', { timeout: 120_000 }, async () => {
  const image = defaultImagePaths('x86_64')
  writeFileSync(join(project, 'tool.sh'), '#!/bin/sh\necho "made by setup on $(hostname)"\n', { mode: 0o644 })
  const own = { kernel: image.kernel, initrd: image.initrd, ssh: false as const, agent: true, bootTimeout: 60_000 }
  const lab = await startLab(
    {
      bridges: { lan: { subnet: '10.45.0.0/24' }, lan2: { subnet: '10.47.0.0/24' } },
      guests: {
        router: {
          ...own,
          nics: [{ bridge: 'lan', ip: '10.45.0.1' }, { bridge: 'lan2', ip: '10.47.0.1' }],
          forwarding: true,
          files: { '/www/index.html': 'served by an own image\n', '/opt/app/tool.sh': { source: 'tool.sh', mode: 0o755 } },
          setup: ['/opt/app/tool.sh > /www/setup.txt'],
          services: { web: { command: 'httpd -f -p 8080 -h /www', ready: { port: 8080 } } },
        },
        far: { ...own, bridge: 'lan', ip: '10.45.0.2', routes: [{ to: '10.47.0.0/24', via: '10.45.0.1' }] },
        client: { bridge: 'lan2', ip: '10.47.0.2', routes: [{ to: '10.45.0.0/24', via: '10.47.0.1' }] },
      },
    },
    { root: project },
  )
  const handles = attachLab(lab.descriptor)
  try {
    const [router, far, client] = [handles.guest('router'), handles.guest('far'), handles.guest('client')]
    expect(await router.succeed('stat -c %a /opt/app/tool.sh; cat /proc/sys/net/ipv4/ip_forward')).toBe('755\n1\n')
    expect(await router.succeed('ip -4 -o addr show eth1')).toContain('inet 10.47.0.1/24')
    expect(await client.succeed('wget -qO- http://10.47.0.1:8080/index.html http://10.47.0.1:8080/setup.txt')).toBe('served by an own image\nmade by setup on router\n')
    expect(await router.succeed('cat /var/log/vitest-qemu/web.log; echo end')).toBe('end\n')
    // Through the router both ways: its forwarding and far's route both came over the console.
    await expect(client).toReach(far)
    await expect(far).toReach(client)
  } finally {
    handles.close()
    await lab.stop()
  }
  const failing = startLab(
    { bridges: { lan: { subnet: '10.45.0.0/24' } }, guests: { broken: { ...own, bridge: 'lan', ip: '10.45.0.9', setup: ['true', 'echo about to fail; exit 3'] } } },
    { root: project },
  )
  await expect(failing).rejects.toThrow(/broken: not ready at stage 'shell' after [\d.]+ s: setup command 2 \(`echo about to fail; exit 3`\) failed with exit 3:\nabout to fail/)
  await expect(startLab({ bridges: { lan: { subnet: '10.45.0.0/24' } }, guests: { plain: { ...own, bridge: 'lan', ip: '10.45.0.9', configureOverConsole: false, setup: ['true'] } } }, { root: project })).rejects.toThrow(
    /guests\.plain\.setup: needs configureOverConsole/,
  )
})
