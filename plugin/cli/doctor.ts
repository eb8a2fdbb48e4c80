import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { arch as hostArch, userInfo } from 'node:os'
import { dirname, relative, resolve } from 'node:path'
import { which } from '../common/which.js'
import { formatBytes } from '../common/format-bytes.js'
import { execa } from 'execa'
import { archProfiles } from '../config/arch.js'
import { cacheDir } from '../common/cache-dir.js'
import type { Arch } from '../config/config.js'
import { bridgeNetfilterOn, forwardDrops } from '../common/forward-trap.js'
import { BRIDGE_HELPER } from '../qemu/qemu-args.js'
import { BRIDGE_CONF, allowedBridges } from '../lab/host-mode.js'
import { defaultImagePaths, hasDefaultImage } from '../images/default-image.js'
import { type AccelChoice, kvmCanRun, probeKvm } from '../lab/kvm-probe.js'
import { type ProjectLab, findConfigFile, loadProjectLabs, selectLab } from './load-config.js'

// `npx vitest-qemu doctor`: checks this machine for what the labs of a project (or, with
// no Vitest config, x86_64 guests in namespace mode) need, one line per check, with the
// command that fixes each problem. The classification is pure (tested beside this file);
// the gathering runs each external command with a timeout.

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface Check {
  id: string
  status: CheckStatus
  summary: string
  /** The command (or step) that fixes it; given for warn and fail. */
  fix?: string
}

export interface DoctorScope {
  arches: Arch[]
  /** Bridges of the labs with `network: 'host'`; empty when no lab uses host mode. */
  hostBridges: string[]
  capture: boolean
  cacheDirs: string[]
}

const COMMAND_TIMEOUT_MS = 5000
const GIB = 1024 ** 3
const MIB = 1024 ** 2
export const MIN_NODE = '20.19'

// ---- pure: what the labs decide, and what each fact means ----

export function scopeOf(labs: ProjectLab[]): DoctorScope {
  if (labs.length === 0) return { arches: ['x86_64'], hostBridges: [], capture: false, cacheDirs: [cacheDir()] }
  const arches = new Set<Arch>()
  const hostBridges = new Set<string>()
  const cacheDirs = new Set<string>()
  for (const { config, root } of labs) {
    for (const guest of Object.values(config.guests)) arches.add(guest.arch ?? 'x86_64')
    if (config.network === 'host') for (const bridge of Object.keys(config.bridges)) hostBridges.add(bridge)
    cacheDirs.add(cacheDir(config.cacheDir === undefined ? undefined : resolve(root, config.cacheDir)))
  }
  return { arches: [...arches], hostBridges: [...hostBridges], capture: labs.some((lab) => lab.config.capture === true), cacheDirs: [...cacheDirs] }
}

export function describeScope(scope: DoctorScope): string {
  const mode = scope.hostBridges.length > 0 ? `host mode (${scope.hostBridges.join(', ')})` : 'namespace mode'
  return `${scope.arches.join(', ')} guests, ${mode}${scope.capture ? ', capture' : ''}`
}

export function versionAtLeast(version: string, minimum: string): boolean {
  const have = version.replace(/^v/, '').split('.').map(Number)
  const need = minimum.split('.').map(Number)
  for (let i = 0; i < need.length; i++) {
    if ((have[i] ?? 0) !== need[i]) return (have[i] ?? 0) > need[i]!
  }
  return true
}

export function nodeCheck(version: string): Check {
  if (versionAtLeast(version, MIN_NODE)) return { id: 'node', status: 'ok', summary: `Node ${version} (needs >= ${MIN_NODE})` }
  return {
    id: 'node',
    status: 'fail',
    summary: `Node ${version} is too old: vitest-qemu needs >= ${MIN_NODE}`,
    fix: 'curl -fsSL https://deb.nodesource.com/setup_22.x | sudo -E bash - && sudo apt-get install -y nodejs',
  }
}

export interface QemuFacts {
  arch: Arch
  /** Where the binary was found on PATH; undefined: not found. */
  path: string | undefined
  /** The first line of `--version`, or why it failed. */
  version: { ok: true; line: string } | { ok: false; error: string } | undefined
}

export function qemuCheck({ arch, path, version }: QemuFacts): Check {
  const { qemuBinary, debianPackage } = archProfiles[arch]
  const id = `qemu-${arch}`
  if (!path) return { id, status: 'fail', summary: `${qemuBinary} not found on PATH (needed by ${arch} guests)`, fix: `sudo apt-get install -y ${debianPackage}` }
  if (!version?.ok) {
    return { id, status: 'fail', summary: `${path} does not run (--version: ${version?.error ?? 'no answer'})`, fix: `sudo apt-get install --reinstall -y ${debianPackage}` }
  }
  return { id, status: 'ok', summary: `${qemuBinary}: ${version.line}` }
}

export interface KvmFacts {
  /** VITEST_QEMU_ACCEL as set (undefined: not set). */
  forced: string | undefined
  /** Guest architectures of the scope that KVM could run on this host. */
  kvmArches: Arch[]
  hostArch: string
  device: 'missing' | 'no-access' | 'usable'
  /** /dev/kvm's group and mode, for the fix when this user cannot open it. */
  deviceGroup: string | undefined
  deviceMode: number | undefined
  user: string
  /** The result of a probe boot; 'no-kernel' when no guest kernel was at hand to boot. */
  probe: AccelChoice | 'no-kernel' | undefined
  /** From /proc/cpuinfo, for the fix when /dev/kvm is missing: virtualisation extensions, and whether this is a VM. */
  cpuExtension: 'vmx' | 'svm' | undefined
  inVirtualMachine: boolean
}

export function kvmCheck(facts: KvmFacts): Check {
  const id = 'kvm'
  const { forced } = facts
  if (forced !== undefined && forced !== 'kvm' && forced !== 'tcg') {
    return { id, status: 'warn', summary: `VITEST_QEMU_ACCEL=${forced} is ignored (only kvm or tcg mean something)`, fix: 'unset VITEST_QEMU_ACCEL' }
  }
  if (facts.kvmArches.length === 0) return { id, status: 'ok', summary: `not used: no configured guest architecture runs under KVM on this ${facts.hostArch} host; TCG in use` }
  const deviceState = { missing: '/dev/kvm missing', 'no-access': `/dev/kvm not accessible to ${facts.user}`, usable: '/dev/kvm accessible' }[facts.device]
  if (forced === 'tcg') return { id, status: 'ok', summary: `VITEST_QEMU_ACCEL=tcg: TCG forced (${deviceState})` }
  // Distributions give /dev/kvm to group kvm, mode 0660; a device only root may open needs that first.
  const groupCanOpen = facts.deviceGroup !== undefined && facts.deviceGroup !== 'root' && ((facts.deviceMode ?? 0) & 0o060) === 0o060
  const joinGroup = `${groupCanOpen ? '' : 'sudo chown root:kvm /dev/kvm && sudo chmod 0660 /dev/kvm && '}sudo usermod -aG ${groupCanOpen ? facts.deviceGroup : 'kvm'} ${facts.user}   # then log in again`
  if (facts.device === 'missing') {
    if (forced === 'kvm') return { id, status: 'fail', summary: 'VITEST_QEMU_ACCEL=kvm but /dev/kvm is missing: QEMU cannot start', fix: 'unset VITEST_QEMU_ACCEL' }
    const fix =
      facts.cpuExtension === 'vmx'
        ? 'sudo modprobe kvm_intel'
        : facts.cpuExtension === 'svm'
          ? 'sudo modprobe kvm_amd'
          : facts.inVirtualMachine
            ? 'none inside this VM: its CPU shows no virtualisation extensions (vmx/svm); enable nested virtualisation on the host that runs it. Guests work under TCG, only slower'
            : 'none on this machine: the CPU shows no virtualisation extensions (vmx/svm); enable VT-x/AMD-V in the firmware. Guests work under TCG, only slower'
    return { id, status: 'warn', summary: '/dev/kvm missing: TCG in use (slower)', fix }
  }
  if (facts.device === 'no-access') {
    if (forced === 'kvm') return { id, status: 'fail', summary: `VITEST_QEMU_ACCEL=kvm but ${deviceState}: QEMU cannot start`, fix: joinGroup }
    const owner = `group ${facts.deviceGroup ?? '?'}, mode ${(facts.deviceMode ?? 0).toString(8).padStart(4, '0')}`
    return { id, status: 'warn', summary: `${deviceState} (${owner}): TCG in use (slower)`, fix: joinGroup }
  }
  const probe = facts.probe
  if (probe === 'no-kernel' || probe === undefined) {
    const arch = facts.kvmArches[0]!
    return {
      id,
      status: 'warn',
      summary: `/dev/kvm accessible but not probed: no ${arch} guest kernel is cached yet (a run probes KVM itself)`,
      fix: `npx vitest-qemu image build --arch ${arch}   # then run doctor again`,
    }
  }
  if (probe.accel === 'kvm') return { id, status: 'ok', summary: `/dev/kvm working: ${probe.reason}${forced === 'kvm' ? ' (VITEST_QEMU_ACCEL=kvm)' : ''}` }
  if (forced === 'kvm') {
    return { id, status: 'fail', summary: `VITEST_QEMU_ACCEL=kvm but KVM does not work: ${probe.reason}`, fix: 'unset VITEST_QEMU_ACCEL   # guests then run under TCG' }
  }
  return {
    id,
    status: 'warn',
    summary: `/dev/kvm present but not working, TCG in use (slower): ${probe.reason.replace(/^\/dev\/kvm is present but KVM does not work here \((.*)\)$/, 'a probe boot under KVM failed: $1')}`,
    fix: 'none needed: guests run under TCG. For KVM, run on a host whose KVM works (nested KVM inside a VM often hangs guests)',
  }
}

export interface TunFacts {
  exists: boolean
  mode: number | undefined
  readWrite: boolean
  user: string
  isRoot: boolean
}

const TUN_UDEV_RULE = `echo 'KERNEL=="tun", MODE="0666"' | sudo tee /etc/udev/rules.d/99-tun.rules`

export function tunCheck(facts: TunFacts): Check {
  const id = 'tun'
  if (!facts.exists) {
    return {
      id,
      status: 'fail',
      summary: '/dev/net/tun missing: the lab cannot create its taps',
      fix: 'sudo modprobe tun   # if /dev/net/tun is still missing: sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200',
    }
  }
  const mode = facts.mode === undefined ? '' : `mode ${facts.mode.toString(8).padStart(4, '0')}`
  if (!facts.readWrite) {
    return {
      id,
      status: 'fail',
      summary: `/dev/net/tun (${mode}) is not read-writable by ${facts.user}: the lab cannot create its taps`,
      fix: `sudo chmod 0666 /dev/net/tun   # until reboot; to keep it: ${TUN_UDEV_RULE}`,
    }
  }
  return { id, status: 'ok', summary: `/dev/net/tun read-writable by ${facts.user} (${mode}${facts.isRoot ? ', as root' : ''})` }
}

export interface NamespaceFacts {
  isRoot: boolean
  /** `unshare [--user --map-root-user] --net true`. */
  unshare: { ok: boolean; error: string }
  /** Creating a bridge inside that namespace; undefined when not tried (no `ip`). */
  bridge: { ok: boolean; error: string } | undefined
  /** The sysctls that can forbid unprivileged user namespaces (undefined: not present on this kernel). */
  sysctls: { unprivilegedUsernsClone?: string; apparmorRestrict?: string; maxUserNamespaces?: string }
}

export function namespaceCommand(isRoot: boolean): string[] {
  return isRoot ? ['unshare', '--net'] : ['unshare', '--user', '--map-root-user', '--net']
}

export function namespaceCheck(facts: NamespaceFacts): Check {
  const id = 'namespace'
  const command = namespaceCommand(facts.isRoot).join(' ')
  if (!facts.unshare.ok) {
    if (facts.isRoot) {
      return {
        id,
        status: 'fail',
        summary: `${command} fails as root: ${facts.unshare.error}`,
        fix: 'in a container, give it the capabilities: docker run --cap-add SYS_ADMIN --cap-add NET_ADMIN ... (or --privileged)',
      }
    }
    const fixes: string[] = []
    const causes: string[] = []
    const { unprivilegedUsernsClone, apparmorRestrict, maxUserNamespaces } = facts.sysctls
    if (unprivilegedUsernsClone === '0') {
      causes.push('kernel.unprivileged_userns_clone=0')
      fixes.push('sudo sysctl -w kernel.unprivileged_userns_clone=1')
    }
    if (apparmorRestrict === '1') {
      causes.push("kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu's AppArmor restriction)")
      fixes.push('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0')
    }
    if (maxUserNamespaces === '0') {
      causes.push('user.max_user_namespaces=0')
      fixes.push('sudo sysctl -w user.max_user_namespaces=15000')
    }
    if (fixes.length === 0) {
      return { id, status: 'fail', summary: `user namespaces do not work (${command}: ${facts.unshare.error})`, fix: 'run the tests as root (sudo), or ask the administrator to allow unprivileged user namespaces' }
    }
    const settings = fixes.map((fix) => fix.replace('sudo sysctl -w ', ''))
    return {
      id,
      status: 'fail',
      summary: `user namespaces are disabled by ${causes.join(' and ')} (${command}: ${facts.unshare.error})`,
      fix: `${fixes.join(' && ')}   # to keep it: printf '${settings.join('\\n')}\\n' | sudo tee /etc/sysctl.d/99-userns.conf`,
    }
  }
  const where = facts.isRoot ? `as root, ${command} works` : `user namespaces work (${command})`
  if (facts.bridge === undefined) return { id, status: 'ok', summary: `${where}; CAP_NET_ADMIN inside not checked (ip is missing)` }
  if (!facts.bridge.ok) {
    return {
      id,
      status: 'fail',
      summary: `${where}, but creating a bridge inside fails (no CAP_NET_ADMIN there?): ${facts.bridge.error}`,
      fix: facts.isRoot ? 'in a container, give it the capability: docker run --cap-add NET_ADMIN ... (or --privileged)' : 'run the tests as root (sudo)',
    }
  }
  return { id, status: 'ok', summary: `${where}, with CAP_NET_ADMIN inside (created a test bridge there)` }
}

export interface ToolsFacts {
  id: string
  /** Tool name -> the Debian package that has it. */
  tools: Record<string, string>
  /** Tools found on PATH. */
  found: Set<string>
  /** Why they are needed; when `required` is false, a missing tool is a warning. */
  purpose: string
  required: boolean
}

export function toolsCheck({ id, tools, found, purpose, required }: ToolsFacts): Check {
  const missing = Object.keys(tools).filter((tool) => !found.has(tool))
  if (missing.length === 0) return { id, status: 'ok', summary: `${Object.keys(tools).join(', ')} found (${purpose})` }
  const packages = [...new Set(missing.map((tool) => tools[tool]!))]
  // tshark asks a debconf question (wireshark group) unless told not to.
  const installer = packages.some((name) => name === 'tshark' || name === 'wireshark-common') ? 'sudo DEBIAN_FRONTEND=noninteractive apt-get install -y' : 'sudo apt-get install -y'
  return { id, status: required ? 'fail' : 'warn', summary: `${missing.join(', ')} not found on PATH (${purpose})`, fix: `${installer} ${packages.join(' ')}` }
}

export function diskCheck(spaces: { dir: string; freeBytes: number }[]): Check {
  const id = 'disk'
  const statusOf = (free: number): CheckStatus => (free < 500 * MIB ? 'fail' : free < 2 * GIB ? 'warn' : 'ok')
  const rank = { ok: 0, warn: 1, fail: 2 }
  const status = spaces.map((space) => statusOf(space.freeBytes)).reduce<CheckStatus>((worst, next) => (rank[next] > rank[worst] ? next : worst), 'ok')
  const summary = `${spaces.map((space) => `${formatBytes(space.freeBytes)} free for the image cache ${space.dir}`).join('; ')} (warn under 2 GiB, fail under 500 MiB)`
  if (status === 'ok') return { id, status, summary }
  return { id, status, summary, fix: 'free space on that filesystem, or put the cache on a larger one: export VITEST_QEMU_CACHE=/path/on/a/larger/disk' }
}

export function hostModeUnusedCheck(): Check {
  return {
    id: 'host-mode',
    status: 'ok',
    summary: "not used (no lab sets network: 'host'): bridges live in each run's own namespace, so qemu-bridge-helper, bridge.conf and iptables do not matter",
  }
}

export function bridgeHelperCheck(facts: { exists: boolean; setuid: boolean; isRoot: boolean }): Check {
  const id = 'bridge-helper'
  if (!facts.exists) return { id, status: 'fail', summary: `${BRIDGE_HELPER} missing (host mode attaches guests through it)`, fix: 'sudo apt-get install -y qemu-system-common' }
  const setuid = facts.setuid ? 'setuid' : 'not setuid'
  if (!facts.isRoot) {
    return {
      id,
      status: 'fail',
      summary: `host mode needs root: it creates bridges in the host's namespace (${BRIDGE_HELPER} is ${setuid})`,
      fix: "run the tests as root (sudo npx vitest run), or use network: 'namespace' (the default), which needs no privileges",
    }
  }
  return { id, status: 'ok', summary: `${BRIDGE_HELPER} present (${setuid}; host mode runs as root, so QEMU starts it as root either way)` }
}

export function bridgeAclCheck(bridges: string[], acl: ReturnType<typeof allowedBridges>, confPath = BRIDGE_CONF): Check {
  const id = 'bridge-acl'
  const denied = bridges.filter((bridge) => acl.denied.has(bridge))
  const missing = bridges.filter((bridge) => !acl.denied.has(bridge) && !acl.allowAll && !acl.allowed.has(bridge))
  if (denied.length === 0 && missing.length === 0) return { id, status: 'ok', summary: `${confPath} allows ${bridges.join(', ')}` }
  const problems: string[] = []
  const fixes: string[] = []
  if (missing.length > 0) {
    problems.push(`does not allow ${missing.join(', ')}`)
    fixes.push(`sudo mkdir -p ${dirname(confPath)} && printf '${missing.map((bridge) => `allow ${bridge}\\n`).join('')}' | sudo tee -a ${confPath}`)
  }
  if (denied.length > 0) {
    problems.push(`denies ${denied.join(', ')}`)
    fixes.push(`remove the line(s) ${denied.map((bridge) => `'deny ${bridge}'`).join(', ')} from ${confPath}`)
  }
  return { id, status: 'fail', summary: `${confPath} ${problems.join(' and ')} (qemu-bridge-helper refuses those bridges; vitest-qemu never edits it)`, fix: fixes.join('; ') }
}

export function bridgeNetfilterCheck(facts: { netfilterOn: boolean; forwardRules: { ok: true; rules: string } | { ok: false; error: string }; bridges: string[] }): Check {
  const id = 'bridge-netfilter'
  if (!facts.netfilterOn) return { id, status: 'ok', summary: 'bridge-nf-call-iptables is off (or br_netfilter not loaded): bridged frames skip iptables' }
  if (!facts.forwardRules.ok) {
    return {
      id,
      status: 'warn',
      summary: `bridge-nf-call-iptables = 1 and the iptables FORWARD chain could not be read (${facts.forwardRules.error}): host mode cannot tell whether it drops bridged traffic`,
      fix: 'sudo apt-get install -y iptables',
    }
  }
  if (!forwardDrops(facts.forwardRules.rules)) return { id, status: 'ok', summary: 'bridge-nf-call-iptables = 1, and the iptables FORWARD chain does not drop: bridged traffic passes' }
  return {
    id,
    status: 'warn',
    summary:
      "bridge-nf-call-iptables = 1 and the iptables FORWARD chain drops (Docker's policy): on a host bridge, ARP works but IP between guests is dropped. " +
      'Host mode handles it: during a run it inserts an ACCEPT rule for its own bridges only and deletes it at the end',
    fix: `nothing for vitest-qemu runs; for your own bridges: ${facts.bridges.map((bridge) => `sudo iptables -I FORWARD -i ${bridge} -o ${bridge} -j ACCEPT`).join(' && ')}`,
  }
}

// ---- pure: the report ----

export function exitCodeOf(checks: Check[]): number {
  return checks.some((check) => check.status === 'fail') ? 1 : 0
}

export function summaryLine(checks: Check[]): string {
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length
  const verdict = count('fail') > 0 ? 'fix the failures above before a run' : count('warn') > 0 ? 'runs can start; see the warnings' : 'ready'
  return `${checks.length} checks: ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail: ${verdict}`
}

export function formatReport(checks: Check[], heading: string): string {
  const idWidth = Math.max(...checks.map((check) => check.id.length))
  const indent = ' '.repeat(6 + idWidth + 2)
  const lines = [heading]
  for (const check of checks) {
    lines.push(`${check.status.padEnd(6)}${check.id.padEnd(idWidth + 2)}${check.summary}`)
    if (check.fix && check.status !== 'ok') lines.push(`${indent}fix: ${check.fix}`)
  }
  lines.push(summaryLine(checks))
  return `${lines.join('\n')}\n`
}

export function formatJson(checks: Check[]): string {
  return `${JSON.stringify(
    checks.map(({ id, status, summary, fix }) => ({ id, status, summary, fix: fix ?? null })),
    null,
    2,
  )}\n`
}

// ---- gathering ----

export interface DoctorOptions {
  config?: string
  project?: string
  cwd?: string
}

/** Runs every check, in the order printed; the `config` check says which labs decided the rest. */
export async function runDoctor(options: DoctorOptions = {}): Promise<Check[]> {
  const { scope, check: configCheck } = await loadScope(options)
  const isRoot = process.getuid?.() === 0
  const user = userInfo().username
  const found = toolsOnPath(['ip', 'bridge', 'unshare', 'setpriv', 'tcpdump', 'editcap', 'tshark', 'nft', 'qemu-img'])
  const checks: Check[] = [nodeCheck(process.versions.node), configCheck]
  for (const arch of scope.arches) checks.push(qemuCheck(await qemuFacts(arch)))
  checks.push(kvmCheck(await kvmFacts(scope, user)))
  checks.push(tunCheck(tunFacts(user, isRoot)))
  checks.push(namespaceCheck(await namespaceFacts(isRoot, found.has('ip'))))
  checks.push(toolsCheck({ id: 'iproute2', tools: { ip: 'iproute2', bridge: 'iproute2' }, found, purpose: 'for bridges, taps, lab.show()', required: true }))
  checks.push(toolsCheck({ id: 'util-linux', tools: { unshare: 'util-linux', setpriv: 'util-linux' }, found, purpose: "for the run's namespace and QEMU's parent-death signal", required: true }))
  checks.push(
    toolsCheck({
      id: 'capture',
      tools: { tcpdump: 'tcpdump', editcap: 'wireshark-common', tshark: 'tshark' },
      found,
      purpose: scope.capture ? 'for capture: true in the config, and lab.capture()' : 'for lab.capture(), and capture: true, which the config does not set',
      required: scope.capture,
    }),
  )
  checks.push(toolsCheck({ id: 'nftables', tools: { nft: 'nftables' }, found, purpose: 'for lab.partition()', required: false }))
  checks.push(toolsCheck({ id: 'qemu-img', tools: { 'qemu-img': 'qemu-utils' }, found, purpose: 'for resets inside QEMU in watch mode and isolation: without it each reset starts a new QEMU', required: false }))
  checks.push(diskCheck(await Promise.all(scope.cacheDirs.map(async (dir) => ({ dir, freeBytes: await freeBytes(dir) })))))
  if (scope.hostBridges.length === 0) checks.push(hostModeUnusedCheck())
  else {
    const helper = existsSync(BRIDGE_HELPER) ? statSync(BRIDGE_HELPER) : undefined
    checks.push(bridgeHelperCheck({ exists: helper !== undefined, setuid: helper !== undefined && (helper.mode & 0o4000) !== 0, isRoot }))
    checks.push(bridgeAclCheck(scope.hostBridges, allowedBridges(BRIDGE_CONF)))
    checks.push(bridgeNetfilterCheck({ netfilterOn: bridgeNetfilterOn(), forwardRules: await forwardRules(), bridges: scope.hostBridges }))
  }
  return checks
}

async function loadScope(options: DoctorOptions): Promise<{ scope: DoctorScope; check: Check }> {
  const cwd = options.cwd ?? process.cwd()
  const id = 'config'
  let file = options.config === undefined ? undefined : resolve(cwd, options.config)
  if (file === undefined) {
    try {
      file = findConfigFile(cwd)
    } catch {
      const scope = scopeOf([])
      if (options.project !== undefined) {
        return { scope, check: { id, status: 'fail', summary: `--project ${options.project}: no Vitest config in ${cwd}; checked for ${describeScope(scope)}`, fix: 'pass --config <file>' } }
      }
      return { scope, check: { id, status: 'ok', summary: `no Vitest config in ${cwd}: checked for ${describeScope(scope)} (pass --config <file> for a project's labs)` } }
    }
  }
  const shown = relative(cwd, file).startsWith('..') ? file : relative(cwd, file)
  const failed = (summary: string, fix: string) => {
    const scope = scopeOf([])
    return { scope, check: { id, status: 'fail' as const, summary: `${summary}; checked for ${describeScope(scope)} instead`, fix } }
  }
  if (!existsSync(file)) return failed(`${file} does not exist`, 'pass the path of your Vitest config: --config <file>')
  let labs: ProjectLab[]
  try {
    labs = await loadProjectLabs(file)
  } catch (error) {
    return failed(`${shown} does not load: ${firstLine(error)}`, `fix ${shown} (npx vitest run shows the same error)`)
  }
  if (options.project !== undefined) {
    try {
      labs = [selectLab(labs, options.project, shown)]
    } catch (error) {
      const names = labs.map((lab) => lab.project ?? '(unnamed)')
      return failed(firstLine(error), names.length > 0 ? `--project ${names.join(' or --project ')}` : `leave out --project: ${shown} has no lab`)
    }
  }
  const scope = scopeOf(labs)
  if (labs.length === 0) return { scope, check: { id, status: 'ok', summary: `${shown} has no qemuLab(...): checked for ${describeScope(scope)}` } }
  const projects = labs.map((lab) => lab.project ?? '(unnamed)').join(', ')
  return { scope, check: { id, status: 'ok', summary: `${shown}, ${labs.length === 1 ? 'lab' : 'labs'} of ${projects}: ${describeScope(scope)}` } }
}

/** The gist of an error: its first line, and the next one when the first only announces it (esbuild's "Build failed with 1 error:"). */
export function firstLine(error: unknown): string {
  const lines = (error as Error).message
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/^vitest-qemu: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
  return lines[0]?.endsWith(':') && lines[1] ? `${lines[0]} ${lines[1]}` : (lines[0] ?? String(error))
}

function toolsOnPath(tools: string[]): Set<string> {
  const found = new Set<string>()
  for (const tool of tools) if (which(tool)) found.add(tool)
  return found
}


async function run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; error: string }> {
  const result = await execa(command, args, { timeout: COMMAND_TIMEOUT_MS, reject: false, stdin: 'ignore' })
  const error = result.timedOut ? `no answer within ${COMMAND_TIMEOUT_MS / 1000} s` : result.stderr.trim().split('\n').pop() || (result.shortMessage ?? `exit ${result.exitCode}`)
  return { ok: result.exitCode === 0, stdout: result.stdout, error }
}

async function qemuFacts(arch: Arch): Promise<QemuFacts> {
  const path = which(archProfiles[arch].qemuBinary)
  if (!path) return { arch, path, version: undefined }
  const result = await run(path, ['--version'])
  return { arch, path, version: result.ok ? { ok: true, line: result.stdout.split('\n')[0]!.trim() } : { ok: false, error: result.error } }
}

async function kvmFacts(scope: DoctorScope, user: string): Promise<KvmFacts> {
  const kvmArches = scope.arches.filter((arch) => kvmCanRun(arch))
  const device = !existsSync('/dev/kvm') ? 'missing' : canReadWrite('/dev/kvm') ? 'usable' : 'no-access'
  const forced = process.env.VITEST_QEMU_ACCEL || undefined
  let probe: KvmFacts['probe']
  if (device === 'usable' && kvmArches.length > 0 && forced !== 'tcg') {
    const arch = kvmArches.find((candidate) => hasDefaultImage(candidate) && existsSync(defaultImagePaths(candidate, scope.cacheDirs[0]).kernel))
    probe = arch ? await probeKvm(archProfiles[arch].qemuBinary, defaultImagePaths(arch, scope.cacheDirs[0]).kernel) : 'no-kernel'
  }
  const flags = readText('/proc/cpuinfo') ?? ''
  const cpuExtension = /\bvmx\b/.test(flags) ? 'vmx' : /\bsvm\b/.test(flags) ? 'svm' : undefined
  const inVirtualMachine = /\bhypervisor\b/.test(flags)
  const stats = device === 'missing' ? undefined : statSync('/dev/kvm')
  const deviceGroup = stats && groupName(stats.gid)
  return { forced, kvmArches, hostArch: hostArch(), device, deviceGroup, deviceMode: stats && stats.mode & 0o7777, user, probe, cpuExtension, inVirtualMachine }
}

function tunFacts(user: string, isRoot: boolean): TunFacts {
  const path = '/dev/net/tun'
  if (!existsSync(path)) return { exists: false, mode: undefined, readWrite: false, user, isRoot }
  return { exists: true, mode: statSync(path).mode & 0o7777, readWrite: canReadWrite(path), user, isRoot }
}

async function namespaceFacts(isRoot: boolean, haveIp: boolean): Promise<NamespaceFacts> {
  const [command, ...args] = namespaceCommand(isRoot)
  const unshare = await run(command!, [...args, 'true'])
  // The namespace vanishes with its only process, and the test bridge with it.
  const bridge = unshare.ok && haveIp ? await run(command!, [...args, 'ip', 'link', 'add', 'name', 'vqdoctor0', 'type', 'bridge']) : undefined
  return {
    isRoot,
    unshare,
    bridge,
    sysctls: {
      unprivilegedUsernsClone: readText('/proc/sys/kernel/unprivileged_userns_clone')?.trim(),
      apparmorRestrict: readText('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim(),
      maxUserNamespaces: readText('/proc/sys/user/max_user_namespaces')?.trim(),
    },
  }
}

async function forwardRules(): Promise<{ ok: true; rules: string } | { ok: false; error: string }> {
  if (!which('iptables')) return { ok: false, error: 'iptables not found' }
  const listed = await run('iptables', ['-S', 'FORWARD'])
  return listed.ok ? { ok: true, rules: listed.stdout } : { ok: false, error: listed.error }
}

/** Free bytes for an unprivileged writer on the filesystem of `dir` (or of its nearest existing parent). */
async function freeBytes(dir: string): Promise<number> {
  let existing = dir
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  const stats = await statfs(existing)
  return stats.bavail * stats.bsize
}

function canReadWrite(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

function groupName(gid: number): string | undefined {
  const line = readText('/etc/group')
    ?.split('\n')
    .find((entry) => entry.split(':')[2] === String(gid))
  return line?.split(':')[0]
}

// ---- the command ----

/** `doctor`: prints the checks (as JSON with `json`); returns the exit code. */
export async function doctorCommand({ json, ...options }: DoctorOptions & { json: boolean }): Promise<number> {
  const checks = await runDoctor(options)
  const who = process.getuid?.() === 0 ? 'as root' : `as ${userInfo().username} (not root)`
  process.stdout.write(json ? formatJson(checks) : formatReport(checks, `vitest-qemu doctor, ${who}, on this ${hostArch()} host:`))
  return exitCodeOf(checks)
}
