import { describe, expect, test } from 'vitest'
import type { LabConfig } from './config.js'
import { LabConfigError } from './config-error.js'
import { planLab } from './lab-plan.js'

const seed: LabConfig = {
  bridges: { br0: { subnet: '192.168.7.0/24' } },
  guests: {
    guestA: { bridge: 'br0', ip: '192.168.7.1', mac: '52:54:00:12:34:50' },
    guestB: { bridge: 'br0', ip: '192.168.7.2', mac: '52:54:00:12:34:51' },
  },
}

function problemsOf(config: LabConfig, fileExists: (path: string) => boolean = () => true): string[] {
  try {
    planLab(config, { root: '/project', fileExists })
  } catch (error) {
    if (error instanceof LabConfigError) return error.problems
    throw error
  }
  return []
}

describe('planLab', () => {
  test('plans the seed topology: addresses, netmask, taps, a free address for the bridge', () => {
    const plan = planLab(seed)
    expect(plan.network).toBe('namespace')
    expect(plan.bridges).toEqual([{ name: 'br0', subnet: '192.168.7.0/24', prefix: 24, address: '192.168.7.254' }])
    expect(plan.guests.map((guest) => guest.nics[0])).toEqual([
      { bridge: 'br0', ip: '192.168.7.1', prefix: 24, netmask: '255.255.255.0', mac: '52:54:00:12:34:50', tap: 'tap0' },
      { bridge: 'br0', ip: '192.168.7.2', prefix: 24, netmask: '255.255.255.0', mac: '52:54:00:12:34:51', tap: 'tap1' },
    ])
    expect(plan.guests[0]).toMatchObject({ arch: 'x86_64', machine: 'pc', console: 'ttyS0', defaultImage: true, ssh: { user: 'root' } })
  })

  test('derives a stable, unique, locally administered MAC when none is given', () => {
    const config: LabConfig = { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1' }, b: { bridge: 'br0', ip: '192.168.7.2' } } }
    const [a, b] = planLab(config).guests
    expect(a!.nics[0]!.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/)
    expect(a!.nics[0]!.mac).not.toBe(b!.nics[0]!.mac)
    expect(planLab(config).guests[0]!.nics[0]!.mac).toBe(a!.nics[0]!.mac)
  })

  test('accepts an ip given as CIDR with the bridge prefix; resolves file paths against the root', () => {
    const plan = planLab(
      { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.9/24', kernel: 'out/bzImage', rootfs: 'out/rootfs.ext4' } } },
      { root: '/project', fileExists: () => true },
    )
    expect(plan.guests[0]).toMatchObject({ kernel: '/project/out/bzImage', rootfs: '/project/out/rootfs.ext4', defaultImage: false, ssh: false })
  })

  const bad: [string, LabConfig, string][] = [
    ['duplicate MACs', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', mac: '52:54:00:00:00:01' }, b: { bridge: 'br0', ip: '192.168.7.2', mac: '52:54:00:00:00:01' } } }, 'guests.b.mac: 52:54:00:00:00:01 is already used by guests.a'],
    ['a multicast MAC', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', mac: '01:00:5e:00:00:01' } } }, 'guests.a.mac: 01:00:5e:00:00:01 is a multicast address'],
    ['a malformed MAC', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', mac: '52:54:00:12:34' } } }, 'guests.a.mac: expected a MAC'],
    ['duplicate IPs', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1' }, b: { bridge: 'br0', ip: '192.168.7.1' } } }, 'guests.b.ip: 192.168.7.1 is already used by guests.a'],
    ['an IP outside the subnet', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '10.0.0.1' } } }, "guests.a.ip: 10.0.0.1 is outside bridge br0's subnet 192.168.7.0/24"],
    ['the network address', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.0' } } }, 'guests.a.ip: 192.168.7.0 is the network address of 192.168.7.0/24'],
    ['the broadcast address', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.255' } } }, 'guests.a.ip: 192.168.7.255 is the broadcast address of 192.168.7.0/24'],
    ['an unknown bridge', { bridges: seed.bridges, guests: { a: { bridge: 'br9', ip: '192.168.7.1' } } }, 'guests.a.bridge: unknown bridge "br9"; configured bridges: br0'],
    ['a bridge name over 15 characters', { bridges: { averyverylongbridge: { subnet: '10.0.0.0/24' } }, guests: { a: { bridge: 'averyverylongbridge', ip: '10.0.0.1' } } }, 'bridges.averyverylongbridge: the name is 19 characters, the kernel allows at most 15'],
    ['a subnet with host bits', { bridges: { br0: { subnet: '192.168.7.1/24' } }, guests: { a: { bridge: 'br0', ip: '192.168.7.2' } } }, 'bridges.br0.subnet: 192.168.7.1/24 has host bits set'],
    ['a guest name that shadows a context key', { bridges: seed.bridges, guests: { task: { bridge: 'br0', ip: '192.168.7.1' } } }, "guests.task: 'task' is a key of Vitest's test context"],
    ['a guest name that is not an identifier', { bridges: seed.bridges, guests: { 'guest-a': { bridge: 'br0', ip: '192.168.7.1' } } }, 'guests.guest-a: the name must be a JavaScript identifier'],
    ['an unknown arch', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', arch: 'mips' as never } } }, 'guests.a.arch: unknown architecture "mips"'],
    ['a gateway no NIC can reach', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', gateway: '10.0.0.1' } } }, 'guests.a.gateway: 10.0.0.1 is not on any subnet of this guest'],
    ['a route via a gateway no NIC can reach', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', routes: [{ to: '10.2.0.0/24', via: '10.9.9.9' }] } } }, 'guests.a.routes[0].via: 10.9.9.9 is not on any subnet of this guest'],
    ['a route to something that is not a network', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', routes: [{ to: '10.2.0.1', via: '192.168.7.254' }] } } }, 'guests.a.routes[0].to: expected a network in CIDR form'],
    ['a guest without a NIC', { bridges: seed.bridges, guests: { a: {} } }, 'guests.a: the guest has no NIC'],
    ['a rootfs without a kernel', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', rootfs: 'disk.img' } } }, 'guests.a.kernel: rootfs/initrd are given without a kernel'],
    ['no guests', { bridges: seed.bridges, guests: {} }, 'guests: the lab has no guests'],
    ['a bridge MTU too small', { bridges: { br0: { subnet: '192.168.7.0/24', mtu: 100 } }, guests: { a: { bridge: 'br0', ip: '192.168.7.1' } } }, 'bridges.br0.mtu: expected an integer from 576 to 9000, got 100'],
    ["a NIC's MTU that is not an integer", { bridges: seed.bridges, guests: { a: { nics: [{ bridge: 'br0', ip: '192.168.7.1', mtu: 1400.5 }] } } }, 'guests.a.nics[0].mtu: expected an integer from 576 to 9000, got 1400.5'],
    ['a netem delay that is no time', { bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', netem: { delay: '100 ms; reboot' } } } }, "guests.a.netem.delay must be milliseconds >= 0 or a time like '100ms'"],
    ['a shorthand MTU beside nics', { bridges: seed.bridges, guests: { a: { mtu: 1400, nics: [{ bridge: 'br0', ip: '192.168.7.1' }] } } }, 'guests.a: give either bridge/ip/ip6/mac/mtu/netem/vlan or nics, not both'],
  ]
  test.each(bad)('rejects %s, naming the guest and the field', (_, config, message) => {
    expect(problemsOf(config).join('\n')).toContain(message)
  })

  test('rejects missing kernel and rootfs files with their resolved paths', () => {
    const problems = problemsOf({ bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', kernel: 'bzImage', rootfs: 'root.ext4' } } }, () => false)
    expect(problems).toEqual(['guests.a.kernel: file not found: /project/bzImage', 'guests.a.rootfs: file not found: /project/root.ext4'])
  })

  test('reports every problem at once', () => {
    const problems = problemsOf({ bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.0', mac: '01:00:00:00:00:01' }, skip: { bridge: 'nope', ip: 'x' } } })
    expect(problems).toHaveLength(4)
    const error = (() => {
      try {
        planLab({ bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.0' } } })
      } catch (caught) {
        return caught as Error
      }
    })()
    expect(error?.message).toBe('vitest-qemu: invalid lab config:\n  - guests.a.ip: 192.168.7.0 is the network address of 192.168.7.0/24')
  })
})

test('snapshots and isolation are checked like every other field', () => {
  expect(problemsOf({ ...seed, snapshots: 'yes' as never, isolation: 'per-guest' as never })).toEqual([
    'snapshots: expected true or false, got "yes"',
    `isolation: expected 'shared', 'per-file' or 'per-test', got "per-guest"`,
  ])
  expect(planLab({ ...seed, isolation: 'per-file' })).toMatchObject({ snapshots: true, isolation: 'per-file' })
  expect(planLab({ ...seed, snapshots: false })).toMatchObject({ snapshots: false })
  expect(planLab({ ...seed, isolation: 'per-test' })).toMatchObject({ isolation: 'per-test' })
})

describe('DHCP', () => {
  const bridges = { lan: { subnet: '10.9.0.0/24', dhcp: true } }
  test("DHCP NICs get, in config order, the pool's first addresses no static NIC and not the bridge holds", () => {
    const plan = planLab({ bridges, guests: { a: { bridge: 'lan', ip: 'dhcp' }, s: { bridge: 'lan', ip: '10.9.0.128' }, b: { bridge: 'lan', ip: 'dhcp' } } })
    expect(plan.guests.map((guest) => [guest.nics[0]!.ip, guest.nics[0]!.dhcp])).toEqual([['10.9.0.129', true], ['10.9.0.128', undefined], ['10.9.0.130', true]])
    expect(plan.bridges[0]).toMatchObject({ address: '10.9.0.254', dhcp: { first: '10.9.0.128', last: '10.9.0.254' } })
  })

  test('a configured range is the pool; one too small, or dhcp on a bridge without a server, is an error naming the NIC', () => {
    const ranged = { lan: { subnet: '10.9.0.0/24', dhcp: { range: ['10.9.0.10', '10.9.0.11'] as [string, string] } } }
    expect(planLab({ bridges: ranged, guests: { a: { bridge: 'lan', ip: 'dhcp' } } }).guests[0]!.nics[0]!.ip).toBe('10.9.0.10')
    expect(problemsOf({ bridges: ranged, guests: { a: { bridge: 'lan', ip: 'dhcp' }, b: { bridge: 'lan', ip: 'dhcp' }, c: { bridge: 'lan', ip: 'dhcp' } } }).join('\n')).toContain(
      "guests.c.ip: bridge lan's DHCP pool 10.9.0.10-10.9.0.11 has no address left for it",
    )
    expect(problemsOf({ bridges: seed.bridges, guests: { a: { bridge: 'br0', ip: 'dhcp' } } }).join('\n')).toContain("guests.a.ip: 'dhcp' needs the lab's DHCP server on bridge br0 (bridges.br0.dhcp: true)")
    expect(problemsOf({ bridges: { lan: { subnet: '10.9.0.0/24', dhcp: { range: ['10.9.1.1', '10.9.0.5'] } } }, guests: { a: { bridge: 'lan', ip: '10.9.0.2' } } }).join('\n')).toContain('bridges.lan.dhcp.range: expected two addresses of 10.9.0.0/24')
  })
})

describe('IPv6', () => {
  const bridges = { lan: { subnet: '10.9.0.0/24', subnet6: 'fd00:9::/64' } }
  test('dual-stack NICs get their address in canonical form; the bridge ::fffe of the prefix', () => {
    const plan = planLab({ bridges, guests: { a: { bridge: 'lan', ip: '10.9.0.1', ip6: 'FD00:9:0::1' } } })
    expect(plan.guests[0]!.nics[0]).toMatchObject({ ip6: 'fd00:9::1', prefix6: 64 })
    expect(plan.bridges[0]).toMatchObject({ subnet6: 'fd00:9::/64', prefix6: 64, address6: 'fd00:9::fffe' })
  })

  test.each([
    ['a prefix that is not a lab prefix', { lan: { subnet: '10.9.0.0/24', subnet6: '2001:4860::/64' } }, 'fd00:9::1', 'bridges.lan.subnet6: 2001:4860::/64 is not a unique local'],
    ['a prefix longer than /64', { lan: { subnet: '10.9.0.0/24', subnet6: 'fd00:9::/80' } }, 'fd00:9::1', 'bridges.lan.subnet6: expected an IPv6 prefix like fd00:7::/64, of /64 or shorter'],
    ['host bits in the prefix', { lan: { subnet: '10.9.0.0/24', subnet6: 'fd00:9::1/64' } }, 'fd00:9::1', 'did you mean fd00:9::/64?'],
    ['an address outside the prefix', bridges, 'fd00:8::1', "guests.a.ip6: fd00:8::1 is outside bridge lan's subnet6 fd00:9::/64"],
    ['a multicast address', bridges, 'ff02::1', 'guests.a.ip6: ff02::1 is a multicast address'],
    ["the prefix's own address", bridges, 'fd00:9::', "guests.a.ip6: fd00:9:: is the prefix's own (subnet-router anycast) address"],
    ['no address at all', bridges, 'fd00:9::g', 'guests.a.ip6: expected an IPv6 address like fd00:9::1, got "fd00:9::g"'],
    ['a bridge without subnet6', { lan: { subnet: '10.9.0.0/24' } }, 'fd00:9::1', 'guests.a.ip6: bridge lan has no subnet6'],
  ])('rejects %s, naming the field', (_, bridgeConfig, ip6, message) => {
    expect(problemsOf({ bridges: bridgeConfig, guests: { a: { bridge: 'lan', ip: '10.9.0.1', ip6 } } }).join('\n')).toContain(message)
  })

  test('an IPv6 address used twice is an error naming both', () => {
    expect(problemsOf({ bridges, guests: { a: { bridge: 'lan', ip: '10.9.0.1', ip6: 'fd00:9::5' }, b: { bridge: 'lan', ip: '10.9.0.2', ip6: 'fd00:9:0:0::5' } } }).join('\n')).toContain('guests.b.ip6: fd00:9::5 is already used by guests.a')
  })
})

test('a VLAN is an id from 1 to 4094, on a NIC or the shorthand, in namespace mode only; a trunk is not supported yet', () => {
  const bridges = { br0: { subnet: '192.168.7.0/24' } }
  expect(problemsOf({ bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', vlan: 0 } } })).toEqual(['guests.a.vlan: expected a VLAN id from 1 to 4094, got 0'])
  expect(problemsOf({ bridges, guests: { a: { nics: [{ bridge: 'br0', ip: '192.168.7.1', vlan: 4095 }] } } })).toEqual(['guests.a.nics[0].vlan: expected a VLAN id from 1 to 4094, got 4095'])
  expect(problemsOf({ bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', vlan: '10' as never } } })).toEqual(['guests.a.vlan: expected a VLAN id from 1 to 4094, got "10"'])
  expect(problemsOf({ network: 'host', bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', vlan: 10 } } })).toEqual([
    "guests.a.vlan: VLANs need the lab's own namespace (network: 'namespace'); in host mode the taps are the host's",
  ])
  expect(problemsOf({ bridges, guests: { a: { bridge: 'br0', ip: '192.168.7.1', vlan: 10, trunk: [20] } as never } })).toContainEqual(expect.stringMatching(/^guests\.a\.trunk: not supported yet/))
  expect(problemsOf({ bridges, guests: { a: { nics: [{ bridge: 'br0', ip: '192.168.7.1' }], vlan: 10 } } })).toEqual(['guests.a: give either bridge/ip/ip6/mac/mtu/netem/vlan or nics, not both'])
})

test("a default guest's memory: 128 MiB, 192 for riscv64 (its generic kernel and larger initramfs), 256 with an own kernel, or as given", () => {
  const plan = planLab({
    bridges: { lan: { subnet: '10.8.0.0/24' } },
    guests: {
      x: { bridge: 'lan', ip: '10.8.0.1' },
      rv: { bridge: 'lan', ip: '10.8.0.2', arch: 'riscv64' },
      own: { bridge: 'lan', ip: '10.8.0.3', arch: 'riscv64', kernel: 'Image' },
      given: { bridge: 'lan', ip: '10.8.0.4', arch: 'riscv64', memory: 160 },
    },
  }, { root: '/project', fileExists: () => true })
  expect(plan.guests.map((guest) => [guest.name, guest.memory])).toEqual([['x', 128], ['rv', 192], ['own', 256], ['given', 160]])
})

test('packages: Debian package names on the default image, sorted and unique; 384 MiB unless memory is given', () => {
  const bridges = { lan: { subnet: '10.8.0.0/24' } }
  expect(problemsOf({ bridges, guests: { a: { bridge: 'lan', ip: '10.8.0.1', packages: ['curl', 'Nginx', ''] } } })).toEqual([
    'guests.a.packages[1]: expected a Debian package name (lowercase letters, digits, + - .), got "Nginx"',
    'guests.a.packages[2]: expected a Debian package name (lowercase letters, digits, + - .), got ""',
  ])
  expect(problemsOf({ bridges, guests: { a: { bridge: 'lan', ip: '10.8.0.1', packages: 'curl' as never } } })).toEqual(['guests.a.packages: expected an array of Debian package names'])
  expect(problemsOf({ bridges, guests: { a: { bridge: 'lan', ip: '10.8.0.1', kernel: 'bzImage', packages: ['curl'] } } })).toContainEqual('guests.a.packages: only for the default image; an own image brings its own software')
  const plan = planLab({ bridges, guests: { a: { bridge: 'lan', ip: '10.8.0.1', packages: ['nginx-light', 'curl', 'curl'] }, b: { bridge: 'lan', ip: '10.8.0.2', packages: ['curl'], memory: 200 } } })
  expect(plan.guests.map((guest) => [guest.packages, guest.memory])).toEqual([[['curl', 'nginx-light'], 384], [['curl'], 200]])
})
