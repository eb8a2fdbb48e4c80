import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { attachLab, type LabDescriptor, startLab } from 'vitest-qemu'
import { BRIDGE_CONF, isAlive, waitUntil } from './support/host-state.js'

// Host mode changes the host: a bridge, an iptables rule per bridge (under Docker's DROP
// policy), a partition's nft table. Each is journaled in the run's folder before it is
// made, so that whatever kills the run, the parent's stop, `cleanup` or the next run's
// start undoes it. Other labs may run at the same time, so only what this spec's runs
// could have made is compared: lines naming its bridge or one of its run ids.
// As root, this spec adds `allow vqtrust0` to bridge.conf and sets iptables' FORWARD
// policy to DROP for its duration, then puts both back.

const bridge = 'vqtrust0'
const isRoot = process.getuid?.() === 0
const repo = join(import.meta.dirname, '..')
const cli = join(repo, 'dist', 'plugin', 'cli.js')
const config = {
  network: 'host' as const,
  bridges: { [bridge]: { subnet: '10.214.9.0/24' } },
  guests: { crashA: { bridge, ip: '10.214.9.1' }, crashB: { bridge, ip: '10.214.9.2' } },
}

/** The host's state as far as it names this spec's bridge or runs: `ip -br link`, `iptables-save`, `nft list ruleset`. */
async function stateOf(names: string[]): Promise<string> {
  const relevant = (text: string) => text.split('\n').filter((line) => names.some((name) => line.includes(name)))
  const links = (await execa('ip', ['-br', 'link'])).stdout
  const rules = (await execa('iptables-save')).stdout
  // A table's lines name the run only in its header; keep each table whole.
  const tables = (await execa('nft', ['list', 'ruleset'])).stdout.split(/\n(?=table )/)
  return [...relevant(links).map((line) => line.split(/\s+/)[0]), ...relevant(rules), ...tables.filter((table) => names.some((name) => table.includes(name)))].join('\n')
}

const ofRun = (runId: string) => [bridge, `vitest-qemu run ${runId}`, `vitest_qemu_${runId}_`]

describe.skipIf(!isRoot)('host mode after a crash', { timeout: 180_000 }, () => {
  let runtime: string
  let savedConf: string | undefined
  let savedPolicy = 'ACCEPT'
  let confDirMade = false
  const savedRuntimeEnv = process.env.VITEST_QEMU_RUNTIME_DIR

  beforeAll(async () => {
    runtime = mkdtempSync(join(tmpdir(), 'vq-host-crash-'))
    process.env.VITEST_QEMU_RUNTIME_DIR = runtime
    savedConf = existsSync(BRIDGE_CONF) ? readFileSync(BRIDGE_CONF, 'utf8') : undefined
    confDirMade = !existsSync('/etc/qemu')
    mkdirSync('/etc/qemu', { recursive: true })
    if (!/^allow vqtrust0$/m.test(savedConf ?? '')) writeFileSync(BRIDGE_CONF, `${savedConf ?? ''}allow ${bridge}\n`)
    savedPolicy = /^-P FORWARD (\w+)/m.exec((await execa('iptables', ['-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT'
    await execa('iptables', ['-P', 'FORWARD', 'DROP'])
    expect(await stateOf([bridge])).toBe('')
  })
  afterAll(async () => {
    await execa('iptables', ['-P', 'FORWARD', savedPolicy])
    // Only this spec's line goes: others may have changed the file meanwhile.
    const now = existsSync(BRIDGE_CONF) ? readFileSync(BRIDGE_CONF, 'utf8') : ''
    if (savedConf === undefined && now.trim() === `allow ${bridge}`) rmSync(BRIDGE_CONF)
    else writeFileSync(BRIDGE_CONF, now.replace(new RegExp(`^allow ${bridge}\\n`, 'm'), ''))
    if (confDirMade && readdirSync('/etc/qemu').length === 0) rmSync('/etc/qemu', { recursive: true })
    if (savedRuntimeEnv === undefined) delete process.env.VITEST_QEMU_RUNTIME_DIR
    else process.env.VITEST_QEMU_RUNTIME_DIR = savedRuntimeEnv
    rmSync(runtime, { recursive: true, force: true })
  })

  /** A running lab's host changes, with a partition: the bridge, the FORWARD rule, the nft table. */
  async function expectChangesOf(descriptor: LabDescriptor): Promise<void> {
    const state = await stateOf(ofRun(descriptor.runId))
    expect(state).toContain(bridge)
    expect(state).toContain(`--comment "vitest-qemu run ${descriptor.runId}" -j ACCEPT`)
    expect(state).toContain(`table bridge vitest_qemu_${descriptor.runId}_`)
    const journal = JSON.parse(readFileSync(join(descriptor.runDir, 'undo-journal.json'), 'utf8')) as { kind: string }[]
    expect(journal.map((record) => record.kind)).toEqual(['bridge', 'iptables-rule', 'nft-table'])
  }

  async function killSupervisor(descriptor: LabDescriptor): Promise<void> {
    process.kill(descriptor.supervisorPid, 'SIGKILL')
    const pids = [descriptor.supervisorPid, ...descriptor.guests.map((guest) => guest.qemuPid)]
    expect(await waitUntil(() => pids.every((pid) => !isAlive(pid)), 5000)).toBe(true)
  }

  test("SIGKILL of the supervisor while guests run: the parent's stop undoes the journal", async () => {
    const lab = await startLab(config)
    const { descriptor } = lab
    try {
      const handles = attachLab(descriptor)
      await handles.partition(['crashA'], ['crashB'])
      handles.close()
      await expectChangesOf(descriptor)
      await killSupervisor(descriptor)
      // Killed, it undid nothing: the changes and the journal are still there.
      expect(await stateOf(ofRun(descriptor.runId))).toContain(bridge)
    } finally {
      await lab.stop()
    }
    expect(await stateOf(ofRun(descriptor.runId))).toBe('')
    expect(existsSync(descriptor.runDir)).toBe(false)
  })

  test('a stop that times out (the supervisor frozen): the parent kills it, then undoes the journal before removing the folder', async () => {
    const lab = await startLab(config)
    const { descriptor } = lab
    const handles = attachLab(descriptor)
    await handles.partition(['crashA'], ['crashB'])
    handles.close()
    await expectChangesOf(descriptor)
    process.kill(descriptor.supervisorPid, 'SIGSTOP')
    const started = Date.now()
    await lab.stop()
    // The stop command went unanswered: killed after the 10 s allowed.
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_500)
    expect(isAlive(descriptor.supervisorPid)).toBe(false)
    expect(await stateOf(ofRun(descriptor.runId))).toBe('')
    expect(existsSync(descriptor.runDir)).toBe(false)
  })

  /** A lab started by a plain Node process that prints its descriptor and waits to be killed. */
  async function labInAnotherProcess() {
    const engine = pathToFileURL(join(repo, 'dist', 'index.js')).href
    const script = `
      import { startLab } from ${JSON.stringify(engine)}
      const lab = await startLab(${JSON.stringify(config)})
      console.log('DESCRIPTOR ' + JSON.stringify(lab.descriptor))
      setInterval(() => {}, 1000)
    `
    const child = execa(process.execPath, ['--input-type=module', '-e', script], { env: { VITEST_QEMU_RUNTIME_DIR: runtime }, reject: false, all: true })
    let output = ''
    const descriptor = await new Promise<LabDescriptor>((resolve, reject) => {
      child.all!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const line = /^DESCRIPTOR (.*)$/m.exec(output)
        if (line) resolve(JSON.parse(line[1]!) as LabDescriptor)
      })
      void child.then(() => reject(new Error(`the lab's process ended:\n${output}`)))
    })
    const handles = attachLab(descriptor)
    await handles.partition(['crashA'], ['crashB'])
    handles.close()
    await expectChangesOf(descriptor)
    // The supervisor first, so that it cannot undo anything when its pipe closes; then its parent.
    await killSupervisor(descriptor)
    child.kill('SIGKILL')
    await child
    expect(await stateOf(ofRun(descriptor.runId))).toContain(bridge)
    return descriptor
  }

  test('SIGKILL of the test process and the supervisor: `cleanup` undoes the journal', async () => {
    const descriptor = await labInAnotherProcess()
    const cleanup = await execa(process.execPath, [cli, 'cleanup'], { env: { VITEST_QEMU_RUNTIME_DIR: runtime }, reject: false, all: true })
    expect(cleanup.all).toContain(`removed what 1 dead run(s) left: ${descriptor.runId}`)
    expect(cleanup.exitCode, cleanup.all).toBe(0)
    expect(await stateOf(ofRun(descriptor.runId))).toBe('')
    expect(readdirSync(runtime)).toEqual([])
  })

  test("the same, then the next run: its sweep undoes the dead run's bridge before the host checks would refuse it", async () => {
    const dead = await labInAnotherProcess()
    const lab = await startLab({ ...config, guests: { crashA: config.guests.crashA } })
    try {
      expect(existsSync(dead.runDir)).toBe(false)
      expect(await stateOf([`vitest-qemu run ${dead.runId}`, `vitest_qemu_${dead.runId}_`])).toBe('')
    } finally {
      await lab.stop()
    }
    expect(await stateOf([...ofRun(dead.runId), ...ofRun(lab.descriptor.runId)])).toBe('')
  })

  test('a boot failure (a guest that panics) leaves neither the bridge nor the rule nor the run folder', async () => {
    const error = await startLab({ ...config, guests: { ...config.guests, crashB: { bridge, ip: '10.214.9.2', append: 'rdinit=/no/such/init' } } }).catch((caught: Error) => caught)
    expect(String(error)).toMatch(/crashB: not ready at stage '(console|shell)' after [\d.]+ s: Kernel panic/)
    expect(await stateOf([bridge])).toBe('')
    expect(readdirSync(runtime)).toEqual([])
  })
})
