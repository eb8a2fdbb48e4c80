import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { archProfiles, isArch } from './arch.js'
import { netemOptions } from './netem.js'
import type { Arch, GuestFile, LabConfig, LoginConfig, SshConfig } from './config.js'
import { LabConfigError } from './config-error.js'
import { configKeyProblems } from './config-keys.js'
import { broadcastOf, contains, formatIpv4, formatSubnet, maskOf, networkOf, parseCidr, parseIpv4, type Subnet } from './ipv4.js'
import { deriveMac, isMulticastMac, parseMac } from './mac.js'
import { contains6, formatIpv6, formatPrefix6, isLabPrefix, isMulticast6, networkOf6, parseCidr6, parseIpv6, type Prefix6 } from './ipv6.js'

// Turns a user's LabConfig into a LabPlan: every default filled in, every name and
// address checked. Pure data in, pure data out: the plan is what the supervisor
// receives and what workers are told about.

export interface BridgePlan {
  name: string
  subnet: string
  prefix: number
  /** The bridge's own address inside the lab (the supervisor reaches guests through it). */
  address: string
  /** Set only when the config sets it; else the kernel's default (1500). */
  mtu?: number
  /** The lab's DHCP server on this bridge: the pool its guests' addresses were drawn from. */
  dhcp?: { first: string; last: string }
  /** Dual-stack: the IPv6 prefix (canonical text), its length, and the bridge's own address in it. */
  subnet6?: string
  prefix6?: number
  address6?: string
}

export interface NicPlan {
  bridge: string
  ip: string
  prefix: number
  netmask: string
  mac: string
  tap: string
  /** On the tap and in the guest; the bridge's when the NIC sets none. */
  mtu?: number
  /** tc netem options applied in the guest at boot (config/netem.ts). */
  netem?: string
  /** The address comes from the bridge's DHCP server, reserved for this NIC's MAC: `ip` is known before boot. */
  dhcp?: boolean
  /** Its IPv6 address (canonical text) in the bridge's `subnet6`, and that prefix's length. */
  ip6?: string
  prefix6?: number
  /** Its port's VLAN, when any NIC on its bridge sets one (1 for those that set none). */
  vlan?: number
}

export interface GuestPlan {
  name: string
  arch: Arch
  nics: NicPlan[]
  gateway?: string
  routes: { to: string; via: string }[]
  forwarding: boolean
  kernel?: string
  initrd?: string
  rootfs?: string
  append?: string
  dtb?: string
  machine: string
  cpu?: string
  memory: number
  cpus: number
  qemuArgs: string[]
  console: string
  ssh: SshConfig | false
  login?: LoginConfig
  /** It gets the agent's ports, and commands go over them first. */
  agent: boolean
  /** Files to add (sources resolved against the root), and commands run at boot. */
  files: Record<string, GuestFile>
  setup: string[]
  services: ServicePlan[]
  /** Debian packages added to the default image (sorted, unique). */
  packages: string[]
  bootTimeout: number
  /** True when the guest boots the embedded default image. */
  defaultImage: boolean
  /** Own images: network, files, setup and services applied over the console after boot. */
  configureOverConsole: boolean
}

export interface ServicePlan {
  name: string
  command: string
  ready?: { port: number } | { command: string }
}

export interface LabPlan {
  network: 'namespace' | 'host'
  capture: boolean
  bridges: BridgePlan[]
  guests: GuestPlan[]
  timeoutMultiplier: number
  snapshots: boolean
  isolation: 'shared' | 'per-file' | 'per-test'
}

/** Names a guest may not take: they are keys of Vitest's test context. */
export const reservedGuestNames = ['task', 'expect', 'skip', 'annotate', 'signal', 'onTestFailed', 'onTestFinished', 'lab', 'context']

const DEFAULT_BOOT_TIMEOUT_MS = 60_000
// Guest RAM is host memory as soon as the guest touches it, and a booting kernel touches
// most of what it gets. The default image runs busybox from a ~9 MiB initramfs and has
// 63 MiB available with 128 MiB; an image of one's own may need more.
const DEFAULT_IMAGE_MEMORY_MIB = 128
const DEFAULT_MEMORY_MIB = 256
/** The default image with `packages`: they are unpacked into the initramfs, in guest memory. */
const PACKAGES_MEMORY_MIB = 384
/** Debian policy 5.6.1: lowercase letters, digits, + - . ; at least two characters, starting alphanumeric. */
const DEBIAN_PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/
const MAX_IFNAME = 15

/** MTUs a lab takes: IPv4's floor to a jumbo frame's ceiling that virtio-net and bridges carry. */
const MIN_MTU = 576
const MAX_MTU = 9000

function mtuProblem(field: string, mtu: unknown, problems: string[]): void {
  if (!Number.isInteger(mtu) || (mtu as number) < MIN_MTU || (mtu as number) > MAX_MTU) problems.push(`${field}: expected an integer from ${MIN_MTU} to ${MAX_MTU}, got ${JSON.stringify(mtu)}`)
}

/** A NIC's IPv6 address: in its bridge's `subnet6`, not the prefix's own (subnet-router anycast) address, not multicast. */
function planIp6(field: string, text: unknown, bridge: string, subnet6: Prefix6 | undefined, problems: string[]): bigint | undefined {
  if (!subnet6) {
    problems.push(`${field}: bridge ${bridge} has no subnet6 (an IPv6 prefix, e.g. subnet6: 'fd00:7::/64')`)
    return undefined
  }
  const cidr = typeof text === 'string' && text.includes('/') ? parseCidr6(text) : undefined
  const address = cidr ? cidr.address : typeof text === 'string' ? parseIpv6(text) : undefined
  if (address === undefined) {
    problems.push(`${field}: expected an IPv6 address like ${formatIpv6(subnet6.network + 1n)}, got ${JSON.stringify(text)}`)
    return undefined
  }
  const shown = formatIpv6(address)
  if (cidr && cidr.prefix !== subnet6.prefix) problems.push(`${field}: prefix /${cidr.prefix} differs from bridge ${bridge}'s ${formatPrefix6(subnet6)}`)
  else if (isMulticast6(address)) problems.push(`${field}: ${shown} is a multicast address; a NIC needs a unicast one`)
  else if (!contains6(subnet6, address)) problems.push(`${field}: ${shown} is outside bridge ${bridge}'s subnet6 ${formatPrefix6(subnet6)}`)
  else if (address === subnet6.network) problems.push(`${field}: ${shown} is the prefix's own (subnet-router anycast) address`)
  else return address
  return undefined
}

/** The addresses a bridge's DHCP server draws from: the configured range, else the subnet's upper half. */
function dhcpPool(name: string, dhcp: unknown, subnet: Subnet, problems: string[]): { first: number; last: number } | undefined {
  const field = `bridges.${name}.dhcp`
  if (dhcp === true) {
    const size = broadcastOf(subnet) - subnet.network + 1
    return { first: subnet.network + Math.floor(size / 2), last: broadcastOf(subnet) - 1 }
  }
  const range = (dhcp as { range?: unknown } | null)?.range
  if (typeof dhcp !== 'object' || dhcp === null || !Array.isArray(range) || range.length !== 2) {
    problems.push(`${field}: expected true or { range: [first, last] }, got ${JSON.stringify(dhcp)}`)
    return undefined
  }
  const [first, last] = range.map((text) => parseIpv4(String(text)))
  const usable = (address: number | undefined) => address !== undefined && contains(subnet, address) && address !== subnet.network && address !== broadcastOf(subnet)
  if (!usable(first) || !usable(last) || first! > last!) {
    problems.push(`${field}.range: expected two addresses of ${formatSubnet(subnet)}, the first not above the last, got ${JSON.stringify(range)}`)
    return undefined
  }
  return { first: first!, last: last! }
}

export interface PlanOptions {
  /** Directory relative paths in the config are resolved against. */
  root?: string
  fileExists?: (path: string) => boolean
}

export function planLab(config: LabConfig, options: PlanOptions = {}): LabPlan {
  const shape = configKeyProblems(config)
  if (shape.structural) throw new LabConfigError(shape.problems)
  const problems: string[] = [...shape.problems]
  const fileExists = options.fileExists ?? existsSync
  const root = options.root ?? process.cwd()
  const multiplier = config.timeoutMultiplier ?? 1
  if (!(typeof multiplier === 'number' && multiplier > 0)) problems.push(`timeoutMultiplier: must be a positive number, got ${String(config.timeoutMultiplier)}`)
  const network = config.network ?? 'namespace'
  if (network !== 'namespace' && network !== 'host') problems.push(`network: must be 'namespace' or 'host', got ${JSON.stringify(network)}`)

  const subnets = new Map<string, Subnet>()
  const subnets6 = new Map<string, Prefix6>()
  /** IPv6 addresses in use, by bridge, so the bridge's own can avoid them. */
  const used6ByBridge = new Map<string, Set<bigint>>()
  const seenIp6s = new Map<string, string>()
  for (const [name, bridge] of Object.entries(config.bridges ?? {})) {
    if (name.length > MAX_IFNAME) problems.push(`bridges.${name}: the name is ${name.length} characters, the kernel allows at most ${MAX_IFNAME}`)
    else if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) problems.push(`bridges.${name}: the name may only hold letters, digits, '_', '.' and '-', and may not begin with '.' or '-'`)
    const cidr = parseCidr(String(bridge?.subnet))
    if (!cidr || cidr.prefix > 30) {
      problems.push(`bridges.${name}.subnet: expected a CIDR like 192.168.7.0/24 with a prefix of at most /30, got ${JSON.stringify(bridge?.subnet)}`)
      continue
    }
    if (networkOf(cidr.address, cidr.prefix) !== cidr.address) {
      problems.push(`bridges.${name}.subnet: ${bridge.subnet} has host bits set; did you mean ${formatIpv4(networkOf(cidr.address, cidr.prefix))}/${cidr.prefix}?`)
      continue
    }
    subnets.set(name, { network: cidr.address, prefix: cidr.prefix })
    if (bridge.subnet6 !== undefined) {
      const parsed = parseCidr6(String(bridge.subnet6))
      const field = `bridges.${name}.subnet6`
      if (!parsed || parsed.prefix > 64) problems.push(`${field}: expected an IPv6 prefix like fd00:7::/64, of /64 or shorter, got ${JSON.stringify(bridge.subnet6)}`)
      else if (networkOf6(parsed.address, parsed.prefix) !== parsed.address) problems.push(`${field}: ${bridge.subnet6} has host bits set; did you mean ${formatPrefix6({ network: networkOf6(parsed.address, parsed.prefix), prefix: parsed.prefix })}?`)
      else if (!isLabPrefix({ network: parsed.address, prefix: parsed.prefix })) problems.push(`${field}: ${bridge.subnet6} is not a unique local (fd00::/8) or documentation (2001:db8::/32) prefix: a lab must not use addresses that exist elsewhere`)
      else subnets6.set(name, { network: parsed.address, prefix: parsed.prefix })
    }
  }

  const guestEntries = Object.entries(config.guests ?? {})
  if (guestEntries.length === 0) problems.push('guests: the lab has no guests')
  const seenMacs = new Map<string, string>()
  const seenIps = new Map<string, string>()
  /** NICs with `ip: 'dhcp'`, in config order: their addresses are drawn from their bridge's pool once the static ones are known. */
  const dhcpNics: { nic: NicPlan; field: string }[] = []
  /** Bridges where a NIC names a VLAN: there, every NIC's port belongs to one (1 by default). */
  const vlanBridges = new Set<string>()
  const usedByBridge = new Map<string, Set<number>>()
  const guests: GuestPlan[] = []
  let tapIndex = 0

  for (const [name, guest] of guestEntries) {
    const where = `guests.${name}`
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) problems.push(`${where}: the name must be a JavaScript identifier (it becomes a test fixture), e.g. guestA`)
    if (reservedGuestNames.includes(name)) problems.push(`${where}: '${name}' is a key of Vitest's test context; choose another guest name`)
    const arch = guest.arch ?? 'x86_64'
    if (!isArch(arch)) {
      problems.push(`${where}.arch: unknown architecture ${JSON.stringify(arch)}; expected one of ${Object.keys(archProfiles).join(', ')}`)
      continue
    }
    const profile = archProfiles[arch]

    const shorthand = guest.bridge !== undefined || guest.ip !== undefined
    const nicConfigs = guest.nics ?? (shorthand ? [{ bridge: guest.bridge ?? '', ip: guest.ip!, ip6: guest.ip6, mac: guest.mac, mtu: guest.mtu, netem: guest.netem, vlan: guest.vlan }] : [])
    if (guest.nics && (shorthand || guest.ip6 !== undefined || guest.mac !== undefined || guest.mtu !== undefined || guest.netem !== undefined || guest.vlan !== undefined)) problems.push(`${where}: give either bridge/ip/ip6/mac/mtu/netem/vlan or nics, not both`)
    if (nicConfigs.length === 0) problems.push(`${where}: the guest has no NIC; give bridge and ip (or nics)`)
    const nics: NicPlan[] = []
    nicConfigs.forEach((nic, index) => {
      const field = guest.nics ? `${where}.nics[${index}]` : where
      const subnet = subnets.get(nic.bridge)
      if (!Object.hasOwn(config.bridges ?? {}, nic.bridge)) {
        problems.push(`${field}.bridge: unknown bridge ${JSON.stringify(nic.bridge)}; configured bridges: ${Object.keys(config.bridges ?? {}).join(', ') || 'none'}`)
        return
      }
      if (!subnet) return
      const dhcp = nic.ip === 'dhcp'
      if (dhcp && !config.bridges[nic.bridge]?.dhcp) problems.push(`${field}.ip: 'dhcp' needs the lab's DHCP server on bridge ${nic.bridge} (bridges.${nic.bridge}.dhcp: true)`)
      if (dhcp && index > 0 && guest.kernel !== undefined) problems.push(`${field}.ip: an own image gets 'dhcp' on its first NIC only (the kernel's ip= argument)`)
      if (typeof nic.ip !== 'string') {
        problems.push(`${field}.ip: required: an IPv4 address like 192.168.7.1 (or a CIDR), got ${nic.ip === undefined ? 'none' : JSON.stringify(nic.ip)}`)
        return
      }
      // A DHCP NIC's address is drawn once every static one is known (below); until then its network stands in.
      const parsed = dhcp ? { address: subnet.network, prefix: subnet.prefix } : nic.ip.includes('/') ? parseCidr(nic.ip) : { address: parseIpv4(nic.ip), prefix: subnet.prefix }
      if (!parsed || parsed.address === undefined) {
        problems.push(`${field}.ip: expected an IPv4 address like 192.168.7.1, got ${JSON.stringify(nic.ip)}`)
        return
      }
      const address = parsed.address
      const ipText = formatIpv4(address)
      if (parsed.prefix !== subnet.prefix) problems.push(`${field}.ip: prefix /${parsed.prefix} differs from bridge ${nic.bridge}'s ${formatSubnet(subnet)}`)
      if (dhcp) {
        // Checked and drawn below; its placeholder is no address any other NIC holds.
      } else if (!contains(subnet, address)) problems.push(`${field}.ip: ${ipText} is outside bridge ${nic.bridge}'s subnet ${formatSubnet(subnet)}`)
      else if (address === subnet.network) problems.push(`${field}.ip: ${ipText} is the network address of ${formatSubnet(subnet)}`)
      else if (address === broadcastOf(subnet)) problems.push(`${field}.ip: ${ipText} is the broadcast address of ${formatSubnet(subnet)}`)
      if (!dhcp) {
        const ipOwner = seenIps.get(ipText)
        if (ipOwner) problems.push(`${field}.ip: ${ipText} is already used by ${ipOwner}`)
        seenIps.set(ipText, field)
        if (!usedByBridge.has(nic.bridge)) usedByBridge.set(nic.bridge, new Set())
        usedByBridge.get(nic.bridge)!.add(address)
      }

      let mac: string
      if (nic.mac === undefined) {
        let salt = 0
        do mac = deriveMac(name, index, salt++)
        while (seenMacs.has(mac))
      } else {
        const parsedMac = parseMac(String(nic.mac))
        if (!parsedMac) {
          problems.push(`${field}.mac: expected a MAC like 52:54:00:12:34:50, got ${JSON.stringify(nic.mac)}`)
          return
        }
        if (isMulticastMac(parsedMac)) problems.push(`${field}.mac: ${parsedMac} is a multicast address; a NIC needs a unicast MAC (even first octet)`)
        if (parsedMac === '00:00:00:00:00:00') problems.push(`${field}.mac: the all-zero MAC is not usable`)
        mac = parsedMac
      }
      const macOwner = seenMacs.get(mac)
      if (macOwner) problems.push(`${field}.mac: ${mac} is already used by ${macOwner}`)
      seenMacs.set(mac, field)
      const mtu = nic.mtu ?? config.bridges[nic.bridge]?.mtu
      if (nic.mtu !== undefined) mtuProblem(`${field}.mtu`, nic.mtu, problems)
      let netem: string | undefined
      if (nic.netem !== undefined) {
        try {
          netem = netemOptions(nic.netem, `${field}.netem`)
        } catch (error) {
          problems.push((error as Error).message.replace(/^vitest-qemu: /, ''))
        }
      }
      const planned: NicPlan = { bridge: nic.bridge, ip: ipText, prefix: subnet.prefix, netmask: formatIpv4(maskOf(subnet.prefix)), mac, tap: `tap${tapIndex++}`, mtu, netem }
      if (nic.vlan !== undefined) {
        if (!Number.isInteger(nic.vlan) || nic.vlan < 1 || nic.vlan > 4094) problems.push(`${field}.vlan: expected a VLAN id from 1 to 4094, got ${JSON.stringify(nic.vlan)}`)
        else if (network === 'host') problems.push(`${field}.vlan: VLANs need the lab's own namespace (network: 'namespace'); in host mode the taps are the host's`)
        else {
          planned.vlan = nic.vlan
          vlanBridges.add(nic.bridge)
        }
      }
      if (nic.ip6 !== undefined) {
        const ip6 = planIp6(`${field}.ip6`, nic.ip6, nic.bridge, subnets6.get(nic.bridge), problems)
        if (ip6 !== undefined) {
          const text = formatIpv6(ip6)
          const owner = seenIp6s.get(text)
          if (owner) problems.push(`${field}.ip6: ${text} is already used by ${owner}`)
          seenIp6s.set(text, `${field}`)
          if (!used6ByBridge.has(nic.bridge)) used6ByBridge.set(nic.bridge, new Set())
          used6ByBridge.get(nic.bridge)!.add(ip6)
          planned.ip6 = text
          planned.prefix6 = subnets6.get(nic.bridge)!.prefix
        }
      }
      if (dhcp) {
        planned.dhcp = true
        dhcpNics.push({ nic: planned, field })
      }
      nics.push(planned)
    })

    for (const key of ['kernel', 'initrd', 'rootfs', 'dtb'] as const) {
      const value = guest[key]
      if (value === undefined) continue
      if (!fileExists(resolve(root, value))) problems.push(`${where}.${key}: file not found: ${resolve(root, value)}`)
    }
    if (guest.kernel === undefined && (guest.rootfs !== undefined || guest.initrd !== undefined)) {
      problems.push(`${where}.kernel: rootfs/initrd are given without a kernel; add kernel (or drop them to use the default image)`)
    }
    const onLink = (address: number) => nics.some((nic) => contains({ network: networkOf(parseIpv4(nic.ip)!, nic.prefix), prefix: nic.prefix }, address))
    if (guest.gateway !== undefined) {
      const gateway = parseIpv4(guest.gateway)
      if (gateway === undefined) problems.push(`${where}.gateway: expected an IPv4 address, got ${JSON.stringify(guest.gateway)}`)
      else if (!onLink(gateway)) problems.push(`${where}.gateway: ${guest.gateway} is not on any subnet of this guest's NICs`)
    }
    const routes: { to: string; via: string }[] = []
    ;(guest.routes ?? []).forEach((route, index) => {
      const field = `${where}.routes[${index}]`
      const to = parseCidr(String(route?.to))
      const via = parseIpv4(String(route?.via))
      if (!to || networkOf(to.address, to.prefix) !== to.address) problems.push(`${field}.to: expected a network in CIDR form like 10.2.0.0/24, got ${JSON.stringify(route?.to)}`)
      if (via === undefined) problems.push(`${field}.via: expected an IPv4 address, got ${JSON.stringify(route?.via)}`)
      else if (!onLink(via)) problems.push(`${field}.via: ${route.via} is not on any subnet of this guest's NICs, so no NIC can reach it`)
      if (to && via !== undefined) routes.push({ to: `${formatIpv4(to.address)}/${to.prefix}`, via: formatIpv4(via) })
    })
    const packages = [...new Set(Array.isArray(guest.packages) ? guest.packages : [])].sort()
    if (guest.packages !== undefined) {
      if (!Array.isArray(guest.packages)) problems.push(`${where}.packages: expected an array of Debian package names`)
      else {
        guest.packages.forEach((name, index) => {
          if (typeof name !== 'string' || !DEBIAN_PACKAGE_NAME.test(name)) problems.push(`${where}.packages[${index}]: expected a Debian package name (lowercase letters, digits, + - .), got ${JSON.stringify(name)}`)
        })
        if (guest.kernel !== undefined && guest.packages.length > 0) problems.push(`${where}.packages: only for the default image; an own image brings its own software`)
      }
    }
    // The packages live in the initramfs, that is in the guest's memory.
    const defaultMemory = guest.kernel === undefined ? (packages.length > 0 ? PACKAGES_MEMORY_MIB : (profile.defaultImageMemory ?? DEFAULT_IMAGE_MEMORY_MIB)) : DEFAULT_MEMORY_MIB
    const memory = guest.memory ?? defaultMemory
    if (!Number.isInteger(memory) || memory < 32) problems.push(`${where}.memory: expected MiB as an integer of at least 32, got ${String(guest.memory)}`)
    const cpus = guest.cpus ?? 1
    if (!Number.isInteger(cpus) || cpus < 1) problems.push(`${where}.cpus: expected a positive integer, got ${String(guest.cpus)}`)
    if (guest.qemuArgs !== undefined && !(Array.isArray(guest.qemuArgs) && guest.qemuArgs.every((arg) => typeof arg === 'string'))) {
      problems.push(`${where}.qemuArgs: expected an array of strings`)
    }
    if (guest.ssh !== undefined && guest.ssh !== false && typeof guest.ssh?.user !== 'string') problems.push(`${where}.ssh.user: required when ssh is given`)
    if (guest.ssh && guest.ssh.privateKey !== undefined && !fileExists(resolve(root, guest.ssh.privateKey))) {
      problems.push(`${where}.ssh.privateKey: file not found: ${resolve(root, guest.ssh.privateKey)}`)
    }
    const bootTimeout = guest.bootTimeout ?? DEFAULT_BOOT_TIMEOUT_MS
    if (!(typeof bootTimeout === 'number' && bootTimeout > 0)) problems.push(`${where}.bootTimeout: expected milliseconds > 0, got ${String(guest.bootTimeout)}`)

    const defaultImage = guest.kernel === undefined
    if (guest.agent !== undefined && typeof guest.agent !== 'boolean') problems.push(`${where}.agent: expected true or false, got ${JSON.stringify(guest.agent)}`)
    if (guest.configureOverConsole !== undefined && typeof guest.configureOverConsole !== 'boolean') problems.push(`${where}.configureOverConsole: expected true or false, got ${JSON.stringify(guest.configureOverConsole)}`)
    const files: Record<string, GuestFile> = {}
    if (guest.files !== undefined) {
      if (typeof guest.files !== 'object' || guest.files === null || Array.isArray(guest.files)) problems.push(`${where}.files: expected an object of guest paths`)
      else if (guest.kernel !== undefined && guest.configureOverConsole === false) problems.push(`${where}.files: needs configureOverConsole (an own image gets its files over the console)`)
      else {
        for (const [path, file] of Object.entries(guest.files)) {
          const field = `${where}.files[${JSON.stringify(path)}]`
          if (!path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '.') || path === '/') problems.push(`${field}: expected an absolute guest path without . or .., like /etc/app.conf`)
          else if (typeof file === 'string') files[path] = file
          else if (typeof file !== 'object' || file === null || typeof file.source !== 'string') problems.push(`${field}: expected text, or { source: hostPath, mode? }`)
          else if (!fileExists(resolve(root, file.source))) problems.push(`${field}.source: not found: ${resolve(root, file.source)}`)
          else if (file.mode !== undefined && !(Number.isInteger(file.mode) && file.mode >= 0 && file.mode <= 0o7777)) problems.push(`${field}.mode: expected a file mode like 0o755, got ${String(file.mode)}`)
          else files[path] = { source: resolve(root, file.source), mode: file.mode }
        }
      }
    }
    if (guest.setup !== undefined) {
      if (!Array.isArray(guest.setup) || !guest.setup.every((command) => typeof command === 'string')) problems.push(`${where}.setup: expected an array of shell commands`)
      else if (guest.kernel !== undefined && guest.configureOverConsole === false) problems.push(`${where}.setup: needs configureOverConsole (an own image runs setup over the console)`)
    }
    const services: ServicePlan[] = []
    if (guest.services !== undefined) {
      if (typeof guest.services !== 'object' || guest.services === null || Array.isArray(guest.services)) problems.push(`${where}.services: expected an object of services by name`)
      else if (guest.kernel !== undefined && guest.configureOverConsole === false) problems.push(`${where}.services: needs configureOverConsole (an own image starts services over the console)`)
      else {
        for (const [serviceName, service] of Object.entries(guest.services)) {
          const field = `${where}.services.${serviceName}`
          if (!/^[A-Za-z0-9_.-]{1,40}$/.test(serviceName)) problems.push(`${field}: a service name is 1-40 letters, digits, '.', '_' or '-'`)
          else if (typeof service === 'string') services.push({ name: serviceName, command: service })
          else if (typeof service !== 'object' || service === null || typeof service.command !== 'string') problems.push(`${field}: expected a command, or { command, ready? }`)
          else if (service.ready !== undefined && !('port' in service.ready ? Number.isInteger(service.ready.port) && service.ready.port >= 1 && service.ready.port <= 65535 : typeof (service.ready as { command?: unknown }).command === 'string')) {
            problems.push(`${field}.ready: expected { port: 1-65535 } or { command: string }`)
          } else services.push({ name: serviceName, command: service.command, ready: service.ready })
        }
      }
    }
    guests.push({
      name,
      arch,
      nics,
      gateway: guest.gateway,
      routes,
      forwarding: guest.forwarding === true,
      kernel: guest.kernel && resolve(root, guest.kernel),
      initrd: guest.initrd && resolve(root, guest.initrd),
      rootfs: guest.rootfs && resolve(root, guest.rootfs),
      append: guest.append,
      dtb: guest.dtb && resolve(root, guest.dtb),
      machine: guest.machine ?? profile.machine,
      cpu: guest.cpu ?? profile.cpu,
      memory,
      cpus,
      qemuArgs: guest.qemuArgs ?? [],
      console: guest.console ?? profile.console,
      // The default image trusts the run's own key; user images need credentials from the config.
      ssh: guest.ssh === undefined ? (defaultImage ? { user: 'root' } : false) : guest.ssh === false ? false : { ...guest.ssh, privateKey: guest.ssh.privateKey && resolve(root, guest.ssh.privateKey) },
      login: guest.login,
      agent: guest.agent ?? defaultImage,
      files,
      setup: Array.isArray(guest.setup) ? guest.setup : [],
      services,
      packages,
      bootTimeout: bootTimeout * (multiplier > 0 ? multiplier : 1),
      defaultImage,
      configureOverConsole: guest.configureOverConsole ?? true,
    })
  }

  const bridges: BridgePlan[] = []
  for (const [name, bridge] of Object.entries(config.bridges ?? {})) {
    const subnet = subnets.get(name)
    if (!subnet) continue
    const used = usedByBridge.get(name) ?? new Set<number>()
    let address: number | undefined
    if (bridge.address !== undefined) {
      address = parseIpv4(bridge.address)
      if (address === undefined || !contains(subnet, address) || address === subnet.network || address === broadcastOf(subnet)) {
        problems.push(`bridges.${name}.address: ${JSON.stringify(bridge.address)} is not a usable address of ${formatSubnet(subnet)}`)
      } else if (used.has(address)) problems.push(`bridges.${name}.address: ${bridge.address} is also a guest's address`)
    } else {
      for (let candidate = broadcastOf(subnet) - 1; candidate > subnet.network; candidate--) {
        if (!used.has(candidate)) {
          address = candidate
          break
        }
      }
      if (address === undefined) problems.push(`bridges.${name}.subnet: ${formatSubnet(subnet)} has no address left for the bridge itself; use a larger subnet`)
    }
    if (bridge.mtu !== undefined) mtuProblem(`bridges.${name}.mtu`, bridge.mtu, problems)
    if (vlanBridges.has(name)) for (const guest of guests) for (const nic of guest.nics) if (nic.bridge === name) nic.vlan ??= 1
    const dhcp = bridge.dhcp ? dhcpPool(name, bridge.dhcp, subnet, problems) : undefined
    if (dhcp) {
      // Each DHCP NIC gets, for its MAC, the pool's first address that no static NIC and not the bridge holds.
      const taken = new Set([...used, ...(address === undefined ? [] : [address])])
      let next = dhcp.first
      for (const { nic, field } of dhcpNics.filter((entry) => entry.nic.bridge === name)) {
        while (next <= dhcp.last && taken.has(next)) next++
        if (next > dhcp.last) {
          problems.push(`${field}.ip: bridge ${name}'s DHCP pool ${formatIpv4(dhcp.first)}-${formatIpv4(dhcp.last)} has no address left for it`)
          continue
        }
        nic.ip = formatIpv4(next)
        taken.add(next++)
      }
    }
    const subnet6 = subnets6.get(name)
    let address6: bigint | undefined
    if (subnet6) {
      // The bridge's own IPv6 address: ::fffe of the prefix, or the next free one below.
      const used6 = used6ByBridge.get(name) ?? new Set<bigint>()
      address6 = subnet6.network + 0xfffen
      while (used6.has(address6)) address6--
    }
    bridges.push({
      name,
      subnet: formatSubnet(subnet),
      prefix: subnet.prefix,
      address: address === undefined ? '' : formatIpv4(address),
      mtu: bridge.mtu,
      dhcp: dhcp && { first: formatIpv4(dhcp.first), last: formatIpv4(dhcp.last) },
      ...(subnet6 && { subnet6: formatPrefix6(subnet6), prefix6: subnet6.prefix, address6: formatIpv6(address6!) }),
    })
  }

  if (config.snapshots !== undefined && typeof config.snapshots !== 'boolean') problems.push(`snapshots: expected true or false, got ${JSON.stringify(config.snapshots)}`)
  if (config.isolation !== undefined && !['shared', 'per-file', 'per-test'].includes(config.isolation)) {
    problems.push(`isolation: expected 'shared', 'per-file' or 'per-test', got ${JSON.stringify(config.isolation)}`)
  }
  if (problems.length > 0) throw new LabConfigError(problems)
  return { network, capture: config.capture === true, bridges, guests, timeoutMultiplier: multiplier, snapshots: config.snapshots !== false, isolation: config.isolation ?? 'shared' }
}
