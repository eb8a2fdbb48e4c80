// The keys a lab config may hold, level by level. Anything else is an error naming its
// path and the nearest known key: a typo (`gatway`) would otherwise configure nothing.
// Keys the public API reserves for features not built yet are errors too, saying so,
// rather than being accepted and ignored. A test compares the lists with config.ts.

interface Level {
  keys: Record<string, Level | 'value'>
  /** Reserved keys, with what they would configure. */
  notYet?: Record<string, string>
  /** A record of named entries (bridges, guests) or a list (nics, routes) of this level. */
  entries?: 'record' | 'list'
}

const login: Level = { keys: { user: 'value', password: 'value' } }
const ssh: Level = { keys: { user: 'value', password: 'value', privateKey: 'value', port: 'value' } }
const route: Level = { keys: { to: 'value', via: 'value' } }
const nicNotYet = { trunk: 'VLAN trunks: tagged ports need 802.1Q tagging in the host kernel' }
const netem: Level = { keys: { delay: 'value', jitter: 'value', loss: 'value', rate: 'value' } }
const nic: Level = { keys: { bridge: 'value', ip: 'value', ip6: 'value', mac: 'value', mtu: 'value', netem, vlan: 'value' }, notYet: nicNotYet }
const bridge: Level = {
  keys: { subnet: 'value', address: 'value', mtu: 'value', dhcp: 'value', subnet6: 'value' },
}
const guest: Level = {
  keys: {
    bridge: 'value',
    ip: 'value',
    ip6: 'value',
    mac: 'value',
    mtu: 'value',
    netem,
    vlan: 'value',
    nics: { ...nic, entries: 'list' },
    gateway: 'value',
    routes: { ...route, entries: 'list' },
    forwarding: 'value',
    arch: 'value',
    kernel: 'value',
    initrd: 'value',
    rootfs: 'value',
    append: 'value',
    dtb: 'value',
    machine: 'value',
    cpu: 'value',
    memory: 'value',
    cpus: 'value',
    qemuArgs: 'value',
    console: 'value',
    ssh,
    login,
    agent: 'value',
    // Keyed by guest path and by service name: their keys are the user's own.
    files: 'value',
    setup: 'value',
    services: 'value',
    packages: 'value',
    configureOverConsole: 'value',
    bootTimeout: 'value',
  },
  notYet: { ...nicNotYet },
}
export const labLevel: Level = {
  keys: {
    bridges: { ...bridge, entries: 'record' },
    guests: { ...guest, entries: 'record' },
    network: 'value',
    capture: 'value',
    timeoutMultiplier: 'value',
    snapshots: 'value',
    isolation: 'value',
    cacheDir: 'value',
  },
}

/** The known (not reserved) keys of each interface of config.ts, for the test that keeps both in step. */
export const knownKeys = {
  LabConfig: Object.keys(labLevel.keys),
  BridgeConfig: Object.keys(bridge.keys),
  GuestConfig: Object.keys(guest.keys),
  NicConfig: Object.keys(nic.keys),
  RouteConfig: Object.keys(route.keys),
  SshConfig: Object.keys(ssh.keys),
  LoginConfig: Object.keys(login.keys),
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known key nearest to `key`, when it is near enough to be what was meant. */
export function nearestKey(key: string, known: string[]): string | undefined {
  let best: { key: string; distance: number } | undefined
  for (const candidate of known) {
    const distance = editDistance(key, candidate)
    if (!best || distance < best.distance) best = { key: candidate, distance }
  }
  return best && best.distance <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Problems with the config's shape: unknown keys (with the nearest known one), reserved
 * keys not supported yet, and levels that are not objects (`structural`: checking the
 * rest would only fail on them).
 */
export function configKeyProblems(config: unknown): { problems: string[]; structural: boolean } {
  const problems: string[] = []
  let structural = false
  const visit = (value: unknown, level: Level, path: string) => {
    if (!isObject(value)) {
      problems.push(`${path || 'the lab config'}: expected an object, got ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`)
      structural = true
      return
    }
    const known = Object.keys(level.keys)
    for (const [key, child] of Object.entries(value)) {
      const where = path ? `${path}.${key}` : key
      const sub = level.keys[key]
      if (sub === undefined || !Object.hasOwn(level.keys, key)) {
        const reserved = level.notYet && Object.hasOwn(level.notYet, key) ? level.notYet[key] : undefined
        if (reserved) problems.push(`${where}: not supported yet (${reserved}); remove it`)
        else {
          const near = nearestKey(key, known)
          problems.push(`${where}: unknown key${near ? `; did you mean '${near}'?` : ''} (known here: ${known.join(', ')})`)
        }
        continue
      }
      if (sub === 'value' || child === undefined) continue
      // ssh: false turns SSH off.
      if (key === 'ssh' && child === false) continue
      if (sub.entries === 'record') {
        if (!isObject(child)) {
          problems.push(`${where}: expected an object of named entries, got ${child === null ? 'null' : Array.isArray(child) ? 'a list' : typeof child}`)
          structural = true
          continue
        }
        for (const [name, entry] of Object.entries(child)) visit(entry, sub, `${where}.${name}`)
      } else if (sub.entries === 'list') {
        if (!Array.isArray(child)) {
          problems.push(`${where}: expected a list, got ${child === null ? 'null' : typeof child}`)
          structural = true
          continue
        }
        child.forEach((entry, index) => visit(entry, sub, `${where}[${index}]`))
      } else visit(child, sub, where)
    }
  }
  visit(config, labLevel, '')
  return { problems, structural }
}
