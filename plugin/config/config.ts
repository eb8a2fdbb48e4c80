import type { NetemSettings } from './netem.js'
// The configuration users write in vitest.config.ts: `qemuLab({ bridges, guests })`.

export type Arch = 'x86_64' | 'i386' | 'aarch64' | 'arm' | 'riscv64'

export interface BridgeConfig {
  /** The bridge's subnet, e.g. `192.168.7.0/24`. */
  subnet: string
  /** Address of the bridge itself inside the lab; default: the highest free address. */
  address?: string
  /** The MTU of the bridge and, unless a NIC says otherwise, of every NIC on it (576-9000). Default 1500. */
  mtu?: number
  /**
   * A DHCP and DNS server (dnsmasq) on the bridge, inside the lab: NICs with `ip: 'dhcp'`
   * get their address from it (drawn from `range`, default the upper half of the subnet),
   * and every guest's name resolves through it.
   */
  dhcp?: boolean | { range: [string, string] }
  /** An IPv6 prefix for the bridge, dual-stack beside `subnet`: a /64 or shorter ULA (fd00::/8) or documentation (2001:db8::/32) prefix. */
  subnet6?: string
}

export interface NicConfig {
  bridge: string
  /** An address (prefix taken from the bridge's subnet), a CIDR, or `'dhcp'` (a lease from the bridge's DHCP server). */
  ip: string
  /** An IPv6 address in the bridge's `subnet6` (or a CIDR with its prefix); the NIC keeps its link-local address too. */
  ip6?: string
  /** Optional; derived, stable and locally administered when left out. */
  mac?: string
  /** The NIC's MTU, on its tap and in the guest (576-9000). Default: the bridge's. */
  mtu?: number
  /** Network emulation on the NIC's egress from boot on, as `lab.netem()` applies it in a test. */
  netem?: NetemSettings
  /**
   * The NIC's port is an access port of this VLAN (1-4094): it exchanges frames only with
   * ports of the same VLAN on its bridge (NICs without `vlan` on such a bridge are in VLAN 1),
   * while the lab itself reaches every port. Frames stay untagged. Namespace mode only.
   */
  vlan?: number
}

export interface RouteConfig {
  /** Destination CIDR. */
  to: string
  via: string
}

export interface SshConfig {
  user: string
  password?: string
  /** Path of a private key file. */
  privateKey?: string
  port?: number
}

export interface LoginConfig {
  user: string
  password?: string
}

/** A file given to a default-image guest: its text, or a host file or folder copied in. */
export type GuestFile = string | { source: string; mode?: number }

/** A long-running command of a default-image guest; `ready`: a TCP port that listens, or a command that succeeds. */
export type ServiceConfig = string | { command: string; ready?: { port: number } | { command: string } }

export interface GuestConfig {
  /** Shorthand for a guest with one NIC. */
  bridge?: string
  ip?: string
  mac?: string
  nics?: NicConfig[]
  /** Shorthand for the one NIC's `ip6`. */
  ip6?: string
  /** Shorthand for the one NIC's `mtu`. */
  mtu?: number
  /** Shorthand for the one NIC's `netem`. */
  netem?: NetemSettings
  /** Shorthand for the one NIC's `vlan`. */
  vlan?: number
  /** Default gateway, given to the kernel's `ip=` argument. */
  gateway?: string
  /** Static routes, e.g. `[{ to: '10.2.0.0/24', via: '10.1.0.1' }]`; `via` must be on a subnet of one of the guest's NICs. */
  routes?: RouteConfig[]
  /** Forward IPv4 between the guest's NICs (a router). Default false. */
  forwarding?: boolean
  arch?: Arch
  kernel?: string
  initrd?: string
  rootfs?: string
  append?: string
  dtb?: string
  machine?: string
  cpu?: string
  /** MiB. Default: 128 for the default image, 256 for a kernel of one's own. */
  memory?: number
  cpus?: number
  qemuArgs?: string[]
  console?: string
  ssh?: SshConfig | false
  login?: LoginConfig
  /**
   * Files put into the guest, by absolute guest path: text, or `{ source, mode? }` copying a
   * host file or folder (relative to the project root). Default image: before it boots; own
   * image: over its console once its shell answers (see `configureOverConsole`).
   */
  files?: Record<string, GuestFile>
  /**
   * Commands the guest runs once at boot, after its network is up and before it is ready,
   * one after another; one that fails fails the boot with its output. Own images: over
   * the console, after `files`.
   */
  setup?: string[]
  /**
   * Debian packages added to a default-image guest with what they need to run, from the
   * same Debian release and architecture as its image (built once per set, cached).
   * Their system users and groups, folders and kernel modules come with them.
   */
  packages?: string[]
  /**
   * Long-running commands the guest starts at boot, after `setup`, each with its output in
   * /var/log/vitest-qemu/NAME.log; the guest is ready once every service with `ready` is.
   * A service is never restarted; its exit is reported. Own images: over the console.
   */
  services?: Record<string, ServiceConfig>
  /**
   * The guest agent's private command channel (two virtio-serial ports). Default: on for
   * the default image; an own image that runs the agent script turns it on.
   */
  agent?: boolean
  /**
   * Own images: once the shell answers, apply over the console what the config says and
   * the kernel's `ip=` does not (addresses of NICs after the first, `routes`, `forwarding`),
   * then `files`, `setup` and `services`. Default: true; false leaves the image as it boots
   * (then `files`, `setup` and `services` are refused). No effect on the default image.
   */
  configureOverConsole?: boolean
  /** Milliseconds until the guest must be ready (shell and SSH). */
  bootTimeout?: number
}

export interface LabConfig {
  bridges: Record<string, BridgeConfig>
  guests: Record<string, GuestConfig>
  /** `namespace` (default): a private network namespace per run. */
  network?: 'namespace' | 'host'
  /**
   * Capture packets on every bridge for the whole run; each failing test gets the
   * packets of its own time window attached. Needs tcpdump (and editcap, from tshark's
   * wireshark-common, for the windows). Default false.
   */
  capture?: boolean
  /** Multiplies every default timeout, for slow machines. Default 1. */
  timeoutMultiplier?: number
  /**
   * Save each guest once it has booted, and restore it in later runs instead of booting
   * it again (guests with a disk, `rootfs` or drives in `qemuArgs`, always boot). A
   * snapshot is keyed by everything that defines its guest and is verified before use.
   * The cache keeps the 64 most recently used, 4 GiB at most (`VITEST_QEMU_SNAPSHOT_CACHE_MB`);
   * `npx vitest-qemu cleanup --snapshots` removes them. `VITEST_QEMU_SNAPSHOTS=0` or `=1`
   * overrides this. Default true.
   */
  snapshots?: boolean
  /**
   * `shared` (default): the test files of a run share the guests as they are. `per-file`:
   * before each test file the guests are brought back to their state right after boot
   * (restored from a saved state in well under a second); the project's files then run
   * one at a time. `per-test`: after each test, every guest the test used (a command, its
   * console, QMP, a forwarded port) is brought back the same way; other guests are left
   * as they are.
   */
  isolation?: 'shared' | 'per-file' | 'per-test'
  /** Where default images are cached. Default `$VITEST_QEMU_CACHE` or `~/.cache/vitest-qemu`. */
  cacheDir?: string
}
