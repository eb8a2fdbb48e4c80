import { expect, test } from 'vitest'
import type { LabConfig } from '../config/config.js'
import {
  type Check,
  type KvmFacts,
  type NamespaceFacts,
  bridgeAclCheck,
  bridgeNetfilterCheck,
  diskCheck,
  exitCodeOf,
  firstLine,
  formatJson,
  formatReport,
  kvmCheck,
  namespaceCheck,
  nodeCheck,
  qemuCheck,
  scopeOf,
  toolsCheck,
  tunCheck,
  versionAtLeast,
} from './doctor.js'

const lab = (config: Partial<LabConfig>, root = '/p') => ({ project: undefined, root, config: { bridges: { br0: { subnet: '10.0.0.0/24' } }, guests: {}, ...config } })

test('without labs it checks x86_64 in namespace mode; with labs, their arches, host bridges, capture and caches decide', () => {
  expect(scopeOf([])).toMatchObject({ arches: ['x86_64'], hostBridges: [], capture: false })
  const scope = scopeOf([
    lab({ guests: { a: { bridge: 'br0', ip: '10.0.0.1' }, b: { bridge: 'br0', ip: '10.0.0.2', arch: 'aarch64' } } }),
    lab({ network: 'host', capture: true, cacheDir: 'cache', bridges: { lan1: { subnet: '10.1.0.0/24' } }, guests: { c: { bridge: 'lan1', ip: '10.1.0.1', arch: 'arm' } } }, '/q'),
  ])
  expect(scope.arches).toEqual(['x86_64', 'aarch64', 'arm'])
  expect(scope.hostBridges).toEqual(['lan1'])
  expect(scope.capture).toBe(true)
  expect(scope.cacheDirs).toContain('/q/cache')
  expect(scope.cacheDirs).toHaveLength(2)
})

test('Node must be at least 20.19', () => {
  expect(versionAtLeast('20.19.0', '20.19')).toBe(true)
  expect(versionAtLeast('v22.1.0', '20.19')).toBe(true)
  expect(versionAtLeast('20.18.3', '20.19')).toBe(false)
  expect(versionAtLeast('18.20.0', '20.19')).toBe(false)
  expect(nodeCheck('20.20.2').status).toBe('ok')
  expect(nodeCheck('20.11.1')).toMatchObject({ status: 'fail', fix: expect.stringContaining('apt-get install -y nodejs') })
})

test('a missing QEMU names the Debian package of its architecture', () => {
  expect(qemuCheck({ arch: 'aarch64', path: undefined, version: undefined })).toEqual({
    id: 'qemu-aarch64',
    status: 'fail',
    summary: 'qemu-system-aarch64 not found on PATH (needed by aarch64 guests)',
    fix: 'sudo apt-get install -y qemu-system-arm',
  })
  expect(qemuCheck({ arch: 'x86_64', path: '/usr/bin/qemu-system-x86_64', version: { ok: true, line: 'QEMU emulator version 7.2.22' } })).toMatchObject({
    status: 'ok',
    summary: 'qemu-system-x86_64: QEMU emulator version 7.2.22',
  })
  expect(qemuCheck({ arch: 'x86_64', path: '/usr/bin/qemu-system-x86_64', version: { ok: false, error: 'libfoo.so: not found' } }).status).toBe('fail')
})

const kvm = (facts: Partial<KvmFacts>): Check =>
  kvmCheck({ forced: undefined, kvmArches: ['x86_64'], hostArch: 'x64', device: 'usable', deviceGroup: 'kvm', deviceMode: 0o660, user: 'ann', probe: undefined, cpuExtension: undefined, inVirtualMachine: false, ...facts })

test('KVM: missing, not accessible, not working and working are told apart, each saying what runs', () => {
  expect(kvm({ device: 'missing' })).toMatchObject({ status: 'warn', summary: '/dev/kvm missing: TCG in use (slower)', fix: expect.stringContaining('no virtualisation extensions') })
  expect(kvm({ device: 'missing', inVirtualMachine: true }).fix).toContain('enable nested virtualisation on the host that runs it')
  expect(kvm({ device: 'missing', cpuExtension: 'vmx' }).fix).toBe('sudo modprobe kvm_intel')
  expect(kvm({ device: 'missing', cpuExtension: 'svm' }).fix).toBe('sudo modprobe kvm_amd')
  expect(kvm({ device: 'no-access' })).toMatchObject({ status: 'warn', summary: expect.stringContaining('TCG in use'), fix: 'sudo usermod -aG kvm ann   # then log in again' })
  expect(kvm({ device: 'no-access', deviceGroup: 'root', deviceMode: 0o600 }).fix).toMatch(/^sudo chown root:kvm \/dev\/kvm && sudo chmod 0660 \/dev\/kvm && sudo usermod -aG kvm ann /)
  expect(kvm({ probe: { accel: 'tcg', reason: '/dev/kvm is present but KVM does not work here (the probe guest printed nothing within 4 s)' } })).toMatchObject({
    status: 'warn',
    summary: '/dev/kvm present but not working, TCG in use (slower): a probe boot under KVM failed: the probe guest printed nothing within 4 s',
  })
  expect(kvm({ probe: { accel: 'kvm', reason: 'a probe boot under KVM printed the kernel banner' } })).toMatchObject({ status: 'ok', summary: expect.stringContaining('working') })
  expect(kvm({ probe: 'no-kernel' })).toMatchObject({ status: 'warn', fix: expect.stringContaining('npx vitest-qemu image build --arch x86_64') })
  expect(kvm({ kvmArches: [], device: 'missing' })).toMatchObject({ status: 'ok', summary: expect.stringContaining('not used') })
})

test('KVM: the VITEST_QEMU_ACCEL override is reported, and forcing KVM where it cannot work fails', () => {
  expect(kvm({ forced: 'tcg', device: 'missing' })).toMatchObject({ status: 'ok', summary: 'VITEST_QEMU_ACCEL=tcg: TCG forced (/dev/kvm missing)' })
  expect(kvm({ forced: 'kvm', device: 'missing' })).toMatchObject({ status: 'fail', fix: 'unset VITEST_QEMU_ACCEL' })
  expect(kvm({ forced: 'kvm', probe: { accel: 'tcg', reason: 'hangs' } }).status).toBe('fail')
  expect(kvm({ forced: 'kvm', probe: { accel: 'kvm', reason: 'banner' } })).toMatchObject({ status: 'ok', summary: expect.stringContaining('VITEST_QEMU_ACCEL=kvm') })
  expect(kvm({ forced: 'fast' })).toMatchObject({ status: 'warn', fix: 'unset VITEST_QEMU_ACCEL' })
})

test('/dev/net/tun: mode 0600 fails an ordinary user with the chmod that fixes it; root is fine', () => {
  const user = tunCheck({ exists: true, mode: 0o600, readWrite: false, user: 'ann', isRoot: false })
  expect(user).toMatchObject({ id: 'tun', status: 'fail', summary: expect.stringContaining('mode 0600') })
  expect(user.fix).toMatch(/^sudo chmod 0666 \/dev\/net\/tun/)
  expect(user.fix).toContain('/etc/udev/rules.d/')
  expect(tunCheck({ exists: true, mode: 0o600, readWrite: true, user: 'root', isRoot: true }).status).toBe('ok')
  expect(tunCheck({ exists: false, mode: undefined, readWrite: false, user: 'ann', isRoot: false })).toMatchObject({ status: 'fail', fix: expect.stringContaining('modprobe tun') })
})

const ns = (facts: Partial<NamespaceFacts>): Check =>
  namespaceCheck({ isRoot: false, unshare: { ok: true, error: '' }, bridge: { ok: true, error: '' }, sysctls: {}, ...facts })

test("namespaces: each sysctl that forbids user namespaces is named with its fix", () => {
  const denied = { ok: false, error: 'unshare: unshare failed: Operation not permitted' }
  expect(ns({})).toMatchObject({ status: 'ok', summary: expect.stringContaining('unshare --user --map-root-user --net') })
  const debian = ns({ unshare: denied, sysctls: { unprivilegedUsernsClone: '0' } })
  expect(debian).toMatchObject({ status: 'fail', summary: expect.stringContaining('kernel.unprivileged_userns_clone=0') })
  expect(debian.fix).toMatch(/^sudo sysctl -w kernel.unprivileged_userns_clone=1 /)
  const ubuntu = ns({ unshare: denied, sysctls: { unprivilegedUsernsClone: '1', apparmorRestrict: '1' } })
  expect(ubuntu.summary).toContain('apparmor_restrict_unprivileged_userns=1')
  expect(ubuntu.fix).toMatch(/^sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 /)
  expect(ubuntu.fix).toContain('/etc/sysctl.d/')
  expect(ns({ unshare: denied }).fix).toContain('as root')
  expect(ns({ isRoot: true, unshare: denied }).status).toBe('fail')
  expect(ns({ bridge: { ok: false, error: 'RTNETLINK answers: Operation not permitted' } })).toMatchObject({ status: 'fail', summary: expect.stringContaining('CAP_NET_ADMIN') })
})

test('tools: missing ones name their packages; capture tools only warn unless the config captures', () => {
  const tools = { tcpdump: 'tcpdump', editcap: 'wireshark-common', tshark: 'tshark' }
  const optional = toolsCheck({ id: 'capture', tools, found: new Set(['tcpdump']), purpose: 'capture', required: false })
  expect(optional).toMatchObject({ status: 'warn', summary: expect.stringContaining('editcap, tshark not found') })
  expect(optional.fix).toBe('sudo DEBIAN_FRONTEND=noninteractive apt-get install -y wireshark-common tshark')
  expect(toolsCheck({ id: 'capture', tools, found: new Set(), purpose: 'capture', required: true }).status).toBe('fail')
  expect(toolsCheck({ id: 'iproute2', tools: { ip: 'iproute2' }, found: new Set(['ip']), purpose: 'bridges', required: true }).status).toBe('ok')
})

test('disk: warns under 2 GiB free, fails under 500 MiB', () => {
  const GiB = 1024 ** 3
  expect(diskCheck([{ dir: '/c', freeBytes: 80 * GiB }])).toMatchObject({ status: 'ok', summary: expect.stringContaining('80.0 GiB free') })
  expect(diskCheck([{ dir: '/c', freeBytes: 1.5 * GiB }]).status).toBe('warn')
  expect(diskCheck([{ dir: '/c', freeBytes: 80 * GiB }, { dir: '/d', freeBytes: 400 * 1024 ** 2 }])).toMatchObject({ status: 'fail', fix: expect.stringContaining('VITEST_QEMU_CACHE') })
})

test("host mode: the ACL names the line to add, and Docker's FORWARD DROP with br_netfilter is explained", () => {
  const acl = { allowAll: false, allowed: new Set(['br0']), denied: new Set(['lan2']) }
  const check = bridgeAclCheck(['br0', 'lan1', 'lan2'], acl, '/etc/qemu/bridge.conf')
  expect(check.status).toBe('fail')
  expect(check.fix).toContain("printf 'allow lan1\\n' | sudo tee -a /etc/qemu/bridge.conf")
  expect(check.fix).toContain("'deny lan2'")
  expect(bridgeAclCheck(['lan1'], { ...acl, allowAll: true }).status).toBe('ok')

  const bridges = ['br0']
  expect(bridgeNetfilterCheck({ netfilterOn: false, forwardRules: { ok: true, rules: '-P FORWARD DROP\n' }, bridges }).status).toBe('ok')
  expect(bridgeNetfilterCheck({ netfilterOn: true, forwardRules: { ok: true, rules: '-P FORWARD ACCEPT\n' }, bridges }).status).toBe('ok')
  const trap = bridgeNetfilterCheck({ netfilterOn: true, forwardRules: { ok: true, rules: '-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n' }, bridges })
  expect(trap).toMatchObject({ status: 'warn', summary: expect.stringContaining('ARP works but IP') })
  expect(trap.fix).toContain('sudo iptables -I FORWARD -i br0 -o br0 -j ACCEPT')
  expect(bridgeNetfilterCheck({ netfilterOn: true, forwardRules: { ok: false, error: 'iptables not found' }, bridges }).status).toBe('warn')
})

test('the report aligns its columns, shows fixes of warnings and failures, and ends with a summary; the exit code follows failures', () => {
  const checks: Check[] = [
    { id: 'node', status: 'ok', summary: 'Node 20.20.2' },
    { id: 'namespace', status: 'warn', summary: 'slow', fix: 'do this' },
    { id: 'tun', status: 'fail', summary: 'no access', fix: 'sudo chmod 0666 /dev/net/tun' },
  ]
  expect(formatReport(checks, 'heading')).toBe(
    [
      'heading',
      'ok    node       Node 20.20.2',
      'warn  namespace  slow',
      '                 fix: do this',
      'fail  tun        no access',
      '                 fix: sudo chmod 0666 /dev/net/tun',
      '3 checks: 1 ok, 1 warn, 1 fail: fix the failures above before a run',
      '',
    ].join('\n'),
  )
  expect(exitCodeOf(checks)).toBe(1)
  expect(exitCodeOf(checks.slice(0, 2))).toBe(0)
  const json = JSON.parse(formatJson(checks)) as unknown[]
  expect(json[0]).toEqual({ id: 'node', status: 'ok', summary: 'Node 20.20.2', fix: null })
  expect(json[2]).toEqual({ id: 'tun', status: 'fail', summary: 'no access', fix: 'sudo chmod 0666 /dev/net/tun' })
})

test("a config's load error is shown by its gist, without colours", () => {
  expect(firstLine(new Error('Build failed with 1 error:\n\n\x1b[31m[PARSE_ERROR] \x1b[0mExpected `}`\n   more'))).toBe('Build failed with 1 error: [PARSE_ERROR] Expected `}`')
  expect(firstLine(new Error('vitest-qemu: config file /x does not exist'))).toBe('config file /x does not exist')
})
