import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { type Lab, type StartedLab, attachLab, defaultImagePaths, ensureDefaultImage, startLab } from 'vitest-qemu'
import { expect } from 'vitest-qemu/test'

// One bridge, five architectures: the default x86_64, aarch64, armhf and riscv64 images
// (riscv64's from Debian 13), and an i386 guest booted the seed's way with
// qemu-system-i386 from a kernel and a raw root disk given as files. None of the image
// files may change.

const i386 = defaultImagePaths('i386')
let lab: StartedLab
let handles: Lab
const imageFiles: string[] = []
const hashes = new Map<string, string>()
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

beforeAll(async () => {
  const images = await Promise.all((['x86_64', 'aarch64', 'arm', 'i386', 'riscv64'] as const).map((arch) => ensureDefaultImage(arch)))
  for (const image of images) imageFiles.push(image.kernel, image.initrd, image.rootfs)
  for (const file of imageFiles) hashes.set(file, sha256(file))
  lab = await startLab({
    bridges: { lan: { subnet: '10.60.0.0/24' } },
    guests: {
      gateway: { bridge: 'lan', ip: '10.60.0.1', arch: 'x86_64' },
      node: { bridge: 'lan', ip: '10.60.0.2', arch: 'aarch64' },
      board: { bridge: 'lan', ip: '10.60.0.3', arch: 'arm' },
      // The seed's form; Debian's i386 kernel has virtio as modules, so its initramfs comes along to load them.
      legacy: { bridge: 'lan', ip: '10.60.0.4', arch: 'i386', kernel: i386.kernel, initrd: i386.initrd, rootfs: i386.rootfs, ssh: false },
      // riscv64 always runs under TCG here and elsewhere (no riscv64 hosts): room for a busy host.
      risc: { bridge: 'lan', ip: '10.60.0.5', arch: 'riscv64', bootTimeout: 180_000 },
    },
  })
  handles = attachLab(lab.descriptor)
}, 300_000)

afterAll(async () => {
  handles?.close()
  await lab?.stop()
})

describe('architectures', { timeout: 120_000 }, () => {
  test('an x86_64 and an aarch64 guest on one bridge reach each other both ways, with matching ARP entries', async () => {
    const [gateway, node] = [handles.guest('gateway'), handles.guest('node')]
    expect(await node.succeed('uname -m')).toBe('aarch64\n')
    await expect(gateway).toReach(node)
    await expect(node).toReach(gateway)
    await expect(gateway).toHaveArpEntryFor(node)
    await expect(node).toHaveArpEntryFor(gateway)
  })

  test("an i386 guest booted with qemu-system-i386 from kernel and raw rootfs files, the seed's way, reaches the x86_64 guest", async () => {
    const legacy = handles.guest('legacy')
    const qemu = readFileSync(`/proc/${legacy.descriptor.qemuPid}/cmdline`, 'utf8').split('\0')
    expect(qemu[0], qemu.join(' ')).toMatch(/(^|\/)qemu-system-i386$/)
    expect(qemu).toContain(`file=${i386.rootfs},if=virtio,format=raw,snapshot=on`)
    expect(await legacy.succeed("uname -m; awk '$2 == \"/\" { print $1 }' /proc/mounts")).toBe('i686\n/dev/vda\n')
    await expect(legacy).toReach(handles.guest('gateway'))
  })

  test('the armhf default image boots and answers uname -m over SSH', async () => {
    expect(await handles.guest('board').ssh.exec('uname -m')).toEqual({ stdout: 'armv7l\n', stderr: '', exitCode: 0 })
  })

  test('every image file the run used has the same SHA-256 as before', async () => {
    await handles.guest('legacy').succeed('echo written > /written-by-the-guest; sync')
    for (const file of imageFiles) expect(sha256(file), file).toBe(hashes.get(file))
  })
})

describe('riscv64', { timeout: 180_000 }, () => {
  test("the riscv64 default image, Debian 13's kernel under TCG, reaches the x86_64 guest and answers over SSH", async () => {
    const [risc, gateway] = [handles.guest('risc'), handles.guest('gateway')]
    expect(await risc.ssh.exec('uname -m')).toEqual({ stdout: 'riscv64\n', stderr: '', exitCode: 0 })
    expect(await risc.succeed('uname -r')).toMatch(/\+deb13-riscv64\n$/)
    await expect(risc).toReach(gateway)
    await expect(gateway).toReach(risc)
    await expect(risc).toHaveArpEntryFor(gateway)
  })
})
