import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { defaultImagePaths } from 'vitest-qemu'
import { probeKvm } from '../plugin/lab/kvm-probe.js'
import { BRIDGE_CONF, hostNetworkState, keepHostModeState } from './support/host-state.js'
import { nodeForOtherUsers } from './support/node-for-users.js'

// `npx vitest-qemu doctor`, the built command run as a child process: as root on this
// machine, as an ordinary user with /dev/net/tun at mode 0600 (the user `vqrootless`,
// created if missing, as the rootless spec does), and with a project config whose lab
// uses host mode. Each failure's printed fix is run (as root, so without `sudo`) and must
// turn the check green. /dev/net/tun's mode, /etc/qemu/bridge.conf and the FORWARD
// policy are put back afterwards.

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(repo, 'dist', 'plugin', 'cli.js')
const isRoot = process.getuid?.() === 0
const user = 'vqrootless'

interface Check {
  id: string
  status: 'ok' | 'warn' | 'fail'
  summary: string
  fix: string | null
}

async function doctor(args: string[], options: { cwd: string; env?: Record<string, string>; asUser?: string }) {
  const env = { VITEST_QEMU_ACCEL: '', ...options.env }
  const command = options.asUser ? ['runuser', '-u', options.asUser, '--', nodeForOtherUsers(), cli, 'doctor', ...args] : [process.execPath, cli, 'doctor', ...args]
  return execa(command[0]!, command.slice(1), { cwd: options.cwd, env, reject: false, timeout: 60_000 })
}

async function doctorJson(args: string[], options: Parameters<typeof doctor>[1]) {
  const run = await doctor(['--json', ...args], options)
  const checks = JSON.parse(run.stdout) as Check[]
  return { exitCode: run.exitCode, checks, byId: (id: string) => checks.find((check) => check.id === id)! }
}

/** Runs a printed fix as root: the command before its comment, without `sudo`. */
async function applyFix(fix: string) {
  const command = fix.split(/\s+#/)[0]!.replace(/\bsudo (-E )?/g, '')
  const result = await execa('sh', ['-c', command], { reject: false, timeout: 10_000 })
  expect(result.exitCode, `${command}\n${result.stderr}`).toBe(0)
}

const noConfigIds = ['node', 'config', 'qemu-x86_64', 'kvm', 'tun', 'namespace', 'iproute2', 'util-linux', 'capture', 'nftables', 'qemu-img', 'disk', 'host-mode']

describe.skipIf(!isRoot)('doctor', { timeout: 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'vq-doctor-'))
  const tunMode = statSync('/dev/net/tun').mode & 0o7777
  afterAll(() => {
    chmodSync('/dev/net/tun', tunMode)
    rmSync(scratch, { recursive: true, force: true })
  })

  test('as root: one line per check, KVM as this machine has it, the exit code follows failures, --json has every check', async () => {
    const before = await hostNetworkState()
    const run = await doctor([], { cwd: scratch })
    const lines = run.stdout.split('\n')
    expect(run.exitCode, run.stdout + run.stderr).toBe(lines.some((line) => line.startsWith('fail ')) ? 1 : 0)
    expect(run.stdout).toContain(`ok    config       no Vitest config in ${scratch}: checked for x86_64 guests, namespace mode`)
    expect(lines.at(-1)).toMatch(/^13 checks: \d+ ok, \d+ warn, \d+ fail: /)

    const kvmLine = lines.find((line) => /^\w+\s+kvm\s/.test(line))!
    if (!existsSync('/dev/kvm')) expect(kvmLine).toMatch(/^warn\s+kvm\s+\/dev\/kvm missing: TCG in use \(slower\)$/)
    else {
      // Present: the doctor's answer must agree with a probe boot of the same kernel.
      const kernel = defaultImagePaths('x86_64').kernel
      if (!existsSync(kernel)) expect(kvmLine).toMatch(/^warn\s+kvm\s+\/dev\/kvm accessible but not probed/)
      else {
        const probe = await probeKvm('qemu-system-x86_64', kernel)
        expect(kvmLine).toMatch(probe.accel === 'kvm' ? /^ok\s+kvm\s+\/dev\/kvm working/ : /^warn\s+kvm\s+\/dev\/kvm present but not working, TCG in use/)
      }
    }

    const json = await doctorJson([], { cwd: scratch })
    expect(json.checks.map((check) => check.id)).toEqual(noConfigIds)
    for (const check of json.checks) {
      expect(['ok', 'warn', 'fail']).toContain(check.status)
      if (check.status !== 'ok') expect(check.fix, check.id).toBeTruthy()
    }
    expect(json.exitCode).toBe(json.checks.some((check) => check.status === 'fail') ? 1 : 0)
    expect(json.exitCode).toBe(run.exitCode)
    expect(json.byId('namespace')).toMatchObject({ status: 'ok', summary: expect.stringContaining('CAP_NET_ADMIN inside') })
    expect(json.byId('tun').status).toBe('ok')

    const forced = await doctorJson([], { cwd: scratch, env: { VITEST_QEMU_ACCEL: 'tcg' } })
    expect(forced.byId('kvm')).toMatchObject({ status: 'ok', summary: expect.stringMatching(/^VITEST_QEMU_ACCEL=tcg: TCG forced/) })
    // The namespace check's test bridge went with its namespace.
    expect(await hostNetworkState()).toBe(before)
  })

  // Where /dev/kvm is missing, a KVM device node with no driver behind it (in a private
  // mount namespace, over a private /dev) is what a broken KVM looks like: present and
  // openable by permission, failing when QEMU uses it.
  test.skipIf(existsSync('/dev/kvm'))('a /dev/kvm that does not work is reported present but not working, after a probe boot', async () => {
    const fakeDev = join(scratch, 'dev')
    mkdirSync(fakeDev)
    const script = [
      `mount -t tmpfs tmpfs ${fakeDev}`,
      `cp -a /dev/null /dev/zero /dev/urandom /dev/random ${fakeDev}/`,
      `mknod -m 0660 ${fakeDev}/kvm c 10 232`,
      `mount --bind ${fakeDev} /dev`,
      `exec ${process.execPath} ${cli} doctor --json`,
    ].join(' && ')
    const run = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { cwd: scratch, env: { VITEST_QEMU_ACCEL: '' }, reject: false, timeout: 30_000 })
    const kvm = (JSON.parse(run.stdout) as Check[]).find((check) => check.id === 'kvm')!
    if (!existsSync(defaultImagePaths('x86_64').kernel)) expect(kvm.summary).toContain('not probed')
    else expect(kvm).toMatchObject({ status: 'warn', summary: expect.stringMatching(/^\/dev\/kvm present but not working, TCG in use \(slower\): a probe boot under KVM failed: /) })
  })

  test('as an ordinary user with /dev/net/tun at mode 0600: the tun check fails with the chmod that fixes it', async ({ annotate }) => {
    await execa('sh', ['-c', `id ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh ${user}`])
    const home = join(scratch, 'home')
    mkdirSync(home)
    await execa('chown', [`${user}:`, home])
    chmodSync('/dev/net/tun', 0o600)
    await annotate(`as root: ensured user ${user}; chmod 0600 /dev/net/tun (was ${tunMode.toString(8)}, restored afterwards)`)
    const asUser = { cwd: home, asUser: user }

    const run = await doctor([], asUser)
    expect(run.exitCode, run.stdout + run.stderr).toBe(1)
    expect(run.stdout).toContain(`doctor, as ${user} (not root)`)
    expect(run.stdout).toMatch(new RegExp(`^fail  tun +/dev/net/tun \\(mode 0600\\) is not read-writable by ${user}`, 'm'))
    expect(run.stdout).toMatch(/^ +fix: sudo chmod 0666 \/dev\/net\/tun /m)

    const json = await doctorJson([], asUser)
    expect(json.exitCode).toBe(1)
    const tun = json.byId('tun')
    expect(tun.status).toBe('fail')
    expect(tun.fix).toMatch(/^sudo chmod 0666 \/dev\/net\/tun/)
    expect(json.byId('namespace').summary).toContain('unshare --user --map-root-user --net')

    await applyFix(tun.fix!)
    expect((await doctorJson([], asUser)).byId('tun')).toMatchObject({ status: 'ok', summary: expect.stringContaining('mode 0666') })
  })

  describe("with a project config: its arches, host mode and capture decide what is checked", () => {
    const config = join(repo, 'specs', 'fixtures', 'doctor-host', 'vitest.config.ts')
    const CONF = BRIDGE_CONF
    const hostState = keepHostModeState()

    test("host mode's ACL and Docker's FORWARD DROP are checked, and the printed ACL fix works", async ({ annotate }) => {
      if (hostState.saved() !== undefined) writeFileSync(CONF, hostState.saved()!.replace(/^allow (vqdoctorbr|all)\s*$/gm, ''))
      await execa('iptables', ['-P', 'FORWARD', 'DROP'])
      const netfilter = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim()
      await annotate(`staged as root: no 'allow vqdoctorbr' in ${CONF}, iptables -P FORWARD DROP, bridge-nf-call-iptables=${netfilter}`)

      const json = await doctorJson(['--config', config], { cwd: scratch })
      const ids = json.checks.map((check) => check.id)
      expect(ids).toEqual(expect.arrayContaining(['qemu-x86_64', 'qemu-aarch64', 'bridge-helper', 'bridge-acl', 'bridge-netfilter']))
      expect(ids).not.toContain('host-mode')
      expect(json.byId('config').summary).toContain('x86_64, aarch64 guests, host mode (vqdoctorbr), capture')
      expect(json.byId('capture').summary).toContain('capture: true in the config')
      expect(json.exitCode).toBe(1)
      const acl = json.byId('bridge-acl')
      expect(acl).toMatchObject({ status: 'fail', fix: expect.stringContaining(`printf 'allow vqdoctorbr\\n' | sudo tee -a ${CONF}`) })
      if (netfilter === '1') {
        expect(json.byId('bridge-netfilter')).toMatchObject({ status: 'warn', summary: expect.stringContaining('ARP works but IP'), fix: expect.stringContaining('-i vqdoctorbr -o vqdoctorbr') })
      } else expect(json.byId('bridge-netfilter').status).toBe('ok')

      await applyFix(acl.fix!)
      expect((await doctorJson(['--config', config], { cwd: scratch })).byId('bridge-acl')).toMatchObject({ status: 'ok', summary: `${CONF} allows vqdoctorbr` })
    })
  })
})
