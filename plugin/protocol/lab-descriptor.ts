// What workers are told about a running lab (structured-clonable: addresses and
// paths, no live handles). Each worker opens its own connections from these.

/** The name by which default-image guests reach the test machine (`lab.exposeHostPort`). */
export const HOST_NAME = 'host.vitest-qemu.internal'

export interface NicDescriptor {
  bridge: string
  ip: string
  prefix: number
  /** Its IPv6 address and prefix length, on a dual-stack bridge. */
  ip6?: string
  prefix6?: number
  mac: string
  tap: string
  /** Its port's VLAN, on a bridge where NICs have VLANs. */
  vlan?: number
}

export interface GuestDescriptor {
  name: string
  arch: string
  ip: string
  /** The first NIC's IPv6 address, on a dual-stack bridge. */
  ip6?: string
  mac: string
  nics: NicDescriptor[]
  transcript: string
  forwardSocket: string
  /** The serial console as a stream for a terminal: write "ROWS COLS\n", then read and type (`vitest-qemu console`). */
  consoleSocket: string
  /** It runs the guest agent (default images): commands over a private virtio-serial channel. */
  agent: boolean
  /** Names of its services (default images): logs in /var/log/vitest-qemu/NAME.log in the guest. */
  services: string[]
  ssh: { user: string; password?: string; privateKeyPath?: string; port: number } | false
  qemuPid: number
  /** Milliseconds from QEMU's start until each boot stage was ready. */
  bootStages: Partial<Record<'qemu' | 'console' | 'restore' | 'shell' | 'ssh', number>>
  /** Booted from its kernel, or restored from a snapshot of an earlier run. */
  booted: 'cold' | 'restored'
}

export interface LabDescriptor {
  runId: string
  runDir: string
  /** Transcripts, QEMU logs and packet captures of this run. */
  logDir: string
  controlSocket: string
  network: 'namespace' | 'host'
  /** Pid of the supervisor; its network namespace is /proc/PID/ns/net. */
  supervisorPid: number
  bridges: { name: string; subnet: string; address: string; subnet6?: string; address6?: string }[]
  guests: GuestDescriptor[]
  /** `per-file`: each test file starts with the guests as they were right after boot. */
  /** `per-test`: after each test, the guests it used are brought back to that state. */
  isolation: 'shared' | 'per-file' | 'per-test'
  /** Whole-run packet captures (config `capture: true`), one per bridge. */
  captures: { bridge: string; path: string }[]
}
