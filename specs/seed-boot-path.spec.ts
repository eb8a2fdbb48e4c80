import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, test } from 'vitest'
import { type StartedLab, defaultImagePaths, startLab } from 'vitest-qemu'
import { attachLab, expect } from 'vitest-qemu/test'

// The seed's own boot form: a kernel and a raw root disk given as files, root=/dev/vda,
// the address from the kernel's ip= argument, a serial console and nothing else.
// The disk is shared by both guests and must not change.

const image = defaultImagePaths('x86_64')
let lab: StartedLab
let diskHashBefore: string

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

beforeAll(async () => {
  diskHashBefore = sha256(image.rootfs)
  const seedGuest = (ip: string, mac: string) => ({
    bridge: 'br0', ip, mac, kernel: image.kernel, initrd: image.initrd, rootfs: image.rootfs, ssh: false as const,
  })
  lab = await startLab({
    bridges: { br0: { subnet: '192.168.7.0/24' } },
    guests: { diskA: seedGuest('192.168.7.1', '52:54:00:12:34:50'), diskB: seedGuest('192.168.7.2', '52:54:00:12:34:51') },
  })
}, 120_000)

afterAll(async () => {
  await lab?.stop()
})

test('guests booted from kernel + rootfs get root=/dev/vda and the ip= argument, like the seed', async () => {
  const handles = attachLab(lab.descriptor)
  const diskA = handles.guest('diskA')
  const diskB = handles.guest('diskB')
  const cmdline = await diskA.succeed('cat /proc/cmdline')
  expect(cmdline).toContain('root=/dev/vda')
  expect(cmdline).toContain('ip=192.168.7.1::')
  expect(cmdline).toContain('console=ttyS0')
  expect(await diskA.succeed("awk '$2 == \"/\" { print $1 }' /proc/mounts")).toBe('/dev/vda\n')
  await expect(diskA).toReach(diskB)
  await expect(diskB).toReach(diskA)
  await expect(diskA).toHaveArpEntryFor(diskB)
  handles.close()
})

test('the shared root disk is never written', async () => {
  expect(sha256(image.rootfs)).toBe(diskHashBefore)
})
