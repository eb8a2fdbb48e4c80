import { expect, test } from 'vitest'
import { planLab } from '../config/lab-plan.js'
import { qemuCommand, incomingWithoutRam } from './qemu-args.js'

const launch = { accel: 'tcg' as const, network: 'namespace' as const, kernel: '/k/bzImage', serialSocket: '/run/x/serial.sock', qmpSocket: '/run/x/qmp.sock' }

test("a user's kernel and raw rootfs boot the seed's way: root=/dev/vda, ip=, a virtio drive, copy-on-write", () => {
  const plan = planLab(
    { bridges: { br0: { subnet: '192.168.7.0/24' } }, guests: { guestA: { bridge: 'br0', ip: '192.168.7.1', mac: '52:54:00:12:34:50', kernel: 'bzImage', rootfs: 'rootfs.ext4', arch: 'i386' } } },
    { root: '/k', fileExists: () => true },
  )
  const { binary, args } = qemuCommand(plan.guests[0]!, { ...launch, rootfs: { path: '/k/rootfs.ext4', format: 'raw' } })
  expect(binary).toBe('qemu-system-i386')
  const value = (flag: string) => args[args.indexOf(flag) + 1]
  expect(value('-kernel')).toBe('/k/bzImage')
  // ip=client:server:gateway:netmask:hostname:device:autoconf, no gateway configured here.
  expect(value('-append')).toBe('console=ttyS0 root=/dev/vda rw ip=192.168.7.1:::255.255.255.0:guestA:eth0:off')
  expect(value('-drive')).toBe('file=/k/rootfs.ext4,if=virtio,format=raw,snapshot=on')
  expect(value('-netdev')).toBe('tap,id=net0,ifname=tap0,script=no,downscript=no')
  expect(value('-device')).toBe('virtio-net-pci,netdev=net0,mac=52:54:00:12:34:50,romfile=')
  expect(value('-machine')).toBe('pc')
  expect(value('-accel')).toBe('tcg,tb-size=32')
  expect(args).toContain('-nodefaults')
})

test('the default image boots quietly, without the x86 timer check, with its initrd; user qemuArgs and append come last', () => {
  const plan = planLab({
    bridges: { br0: { subnet: '10.0.0.0/24' } },
    guests: { a: { bridge: 'br0', ip: '10.0.0.2', gateway: '10.0.0.1', memory: 192, qemuArgs: ['-rtc', 'base=utc'] } },
  })
  const { binary, args } = qemuCommand(plan.guests[0]!, { ...launch, initrd: '/run/x/initrd.cpio' })
  expect(binary).toBe('qemu-system-x86_64')
  expect(args[args.indexOf('-append') + 1]).toBe('console=ttyS0 quiet cryptomgr.notests no_timer_check ip=10.0.0.2::10.0.0.1:255.255.255.0:a:eth0:off')
  expect(args[args.indexOf('-initrd') + 1]).toBe('/run/x/initrd.cpio')
  expect(args[args.indexOf('-m') + 1]).toBe('192')
  expect(args.slice(-2)).toEqual(['-rtc', 'base=utc'])
  expect(args).not.toContain('-drive')
})

test("host mode attaches NICs through qemu-bridge-helper, the seed's -netdev bridge", () => {
  const plan = planLab({ network: 'host', bridges: { br0: { subnet: '192.168.7.0/24' } }, guests: { a: { bridge: 'br0', ip: '192.168.7.1' } } })
  const { args } = qemuCommand(plan.guests[0]!, { ...launch, network: 'host' })
  expect(args[args.indexOf('-netdev') + 1]).toBe('bridge,id=net0,br=br0,helper=/usr/lib/qemu/qemu-bridge-helper')
})

test('a guest whose state is saved zeroes freed memory; a restore reads the saved state from the descriptor it is given', () => {
  const plan = planLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2' } } })
  const plain = qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i' }).args
  expect(plain[plain.indexOf('-append') + 1]).not.toContain('init_on_free')
  expect(plain).not.toContain('-incoming')
  const restored = qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i', saved: true, incoming: "/cache/it's/state" }).args
  expect(restored[restored.indexOf('-append') + 1]).toContain(' init_on_free=1')
  expect(restored.slice(-2)).toEqual(['-incoming', 'fd:3'])
})

test('a reset point file is a qcow2 drive no device uses (commas in its path doubled), before the incoming state', () => {
  const plan = planLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2' } } })
  const args = qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i', saved: true, vmstate: '/run/a,b/reset-point.qcow2', incoming: '/s' }).args
  expect(args.slice(-4)).toEqual(['-drive', 'if=none,id=vq-vmstate,format=qcow2,file=/run/a,,b/reset-point.qcow2', '-incoming', 'fd:3'])
  expect(args.filter((arg) => arg.includes('drive=vq-vmstate'))).toEqual([])
  expect(qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i', saved: true }).args).not.toContain('-drive')
})

test('only x86 default images get no_timer_check, every default image cryptomgr.notests; a kernel of your own boots with what you append', () => {
  const plan = planLab(
    {
      bridges: { br0: { subnet: '10.0.0.0/24' } },
      guests: { pc: { bridge: 'br0', ip: '10.0.0.2', arch: 'i386' }, board: { bridge: 'br0', ip: '10.0.0.3', arch: 'aarch64' }, own: { bridge: 'br0', ip: '10.0.0.4', kernel: 'bzImage' } },
    },
    { root: '/k', fileExists: () => true },
  )
  const append = (index: number) => {
    const { args } = qemuCommand(plan.guests[index]!, launch)
    return args[args.indexOf('-append') + 1]!.split(' ')
  }
  expect(append(0)).toContain('no_timer_check')
  expect(append(1)).not.toContain('no_timer_check')
  expect(append(2)).not.toContain('no_timer_check')
  // The crypto self-tests are skipped on every default image, never on a kernel of your own.
  expect(append(0)).toContain('cryptomgr.notests')
  expect(append(1)).toContain('cryptomgr.notests')
  expect(append(2)).not.toContain('cryptomgr.notests')
})

test("TCG's translation cache is bounded; KVM gets no TCG options", () => {
  const plan = planLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2' } } })
  // -accel and -machine accel= may not be mixed: the accelerator is only in -accel.
  const flags = (args: string[], flag: string) => args.filter((_, index) => args[index - 1] === flag)
  const tcg = qemuCommand(plan.guests[0]!, launch).args
  const kvm = qemuCommand(plan.guests[0]!, { ...launch, accel: 'kvm' }).args
  expect([flags(tcg, '-accel'), flags(tcg, '-machine')]).toEqual([['tcg,tb-size=32'], ['pc']])
  expect([flags(kvm, '-accel'), flags(kvm, '-machine')]).toEqual([['kvm'], ['pc']])
})

test('default-image guests get 128 MiB, guests with their own kernel 256 MiB, unless memory is given', () => {
  const plan = planLab(
    {
      bridges: { br0: { subnet: '10.0.0.0/24' } },
      guests: { a: { bridge: 'br0', ip: '10.0.0.2' }, b: { bridge: 'br0', ip: '10.0.0.3', kernel: 'bzImage' }, c: { bridge: 'br0', ip: '10.0.0.4', memory: 512 } },
    },
    { root: '/k', fileExists: () => true },
  )
  const memoryOf = (index: number) => {
    const { args } = qemuCommand(plan.guests[index]!, launch)
    return args[args.indexOf('-m') + 1]
  }
  expect([memoryOf(0), memoryOf(1), memoryOf(2)]).toEqual(['128', '256', '512'])
})

test("default-image guests get the host's entropy (virtio-rng); a kernel of one's own gets only what it asks for", () => {
  const plan = planLab(
    { bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2' }, own: { bridge: 'br0', ip: '10.0.0.3', kernel: 'k' } } },
    { root: '/p', fileExists: () => true },
  )
  const devices = (index: number) => {
    const args = qemuCommand(plan.guests[index]!, { ...launch, initrd: '/i' }).args
    return args.flatMap((arg, at) => (arg === '-device' ? [args[at + 1]!] : []))
  }
  expect(devices(0)).toContain('virtio-rng-pci')
  expect(devices(1)).not.toContain('virtio-rng-pci')
})

test("a guest's memory as a file: written by a guest that is saved, copy-on-write for a restore whose state leaves it out (incoming deferred)", () => {
  const plan = planLab({ bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.0.0.2', memory: 192 } } })
  const saving = qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i', saved: true, ram: { path: '/run/a,b/ram', shared: true } }).args
  expect(saving[saving.indexOf('-machine') + 1]).toBe(`${plan.guests[0]!.machine},memory-backend=vq-ram`)
  expect(saving[saving.indexOf('-object') + 1]).toBe('memory-backend-file,id=vq-ram,size=192M,mem-path=/run/a,,b/ram,share=on')
  expect(saving[saving.indexOf('-m') + 1]).toBe('192')
  const restored = { ...launch, initrd: '/i', saved: true, incoming: '/cache/s/state', ram: { path: '/cache/s/ram', shared: false } }
  const args = qemuCommand(plan.guests[0]!, restored).args
  expect(args[args.indexOf('-object') + 1]).toBe('memory-backend-file,id=vq-ram,size=192M,mem-path=/cache/s/ram,share=off')
  expect(args.slice(-2)).toEqual(['-incoming', 'defer'])
  expect(incomingWithoutRam(restored)).toBe(true)
  // A full state (memory and all) restored into a guest that writes its memory file: read from the descriptor as always.
  const full = { ...restored, ram: { path: '/run/a/ram', shared: true } }
  expect(qemuCommand(plan.guests[0]!, full).args.slice(-2)).toEqual(['-incoming', 'fd:3'])
  expect(incomingWithoutRam(full)).toBe(false)
  // QEMU's usual memory under the same name, for a full state saved from a guest with a memory file.
  const anonymous = qemuCommand(plan.guests[0]!, { ...restored, ram: { shared: false } }).args
  expect(anonymous[anonymous.indexOf('-object') + 1]).toBe('memory-backend-ram,id=vq-ram,size=192M')
  expect(anonymous.slice(-2)).toEqual(['-incoming', 'fd:3'])
  expect(qemuCommand(plan.guests[0]!, { ...launch, initrd: '/i' }).args).not.toContain('-object')
})
