import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import nodeModule from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { afterAll, expect, test } from 'vitest'

// When the supervisor cannot even start (unshare refused: user namespaces disabled, no
// CAP_SYS_ADMIN in a container), the run fails at once with that reason. The supervisor
// then exits while startLab is still writing its ledger; its exit must not go unheard
// (a plain Node process running startLab used to end with the promise never settled).

const scratch = mkdtempSync(join(tmpdir(), 'vq-supervisor-start-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

test('an unshare that fails at once fails startLab at once with that reason, and leaves no runtime folder', async () => {
  const bin = join(scratch, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'unshare'), '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n')
  chmodSync(join(bin, 'unshare'), 0o755)
  const runtime = join(scratch, 'runtime')
  const engine = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'plugin', 'index.js')).href
  const script = `
    import { startLab } from ${JSON.stringify(engine)}
    const config = { bridges: { br0: { subnet: '10.46.0.0/24' } }, guests: { lonely: { bridge: 'br0', ip: '10.46.0.2' } } }
    await startLab(config, { root: ${JSON.stringify(scratch)} }).then(() => console.log('started?!'), (error) => console.log('ERROR: ' + error.message))
  `
  const started = Date.now()
  const run = await execa(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: `${bin}:${process.env.PATH}`, VITEST_QEMU_RUNTIME_DIR: runtime },
    timeout: 20_000,
    reject: false,
    all: true,
  })
  expect(run.all).toContain('unshare: unshare failed: Operation not permitted')
  expect(run.all).toContain('ERROR: vitest-qemu: the supervisor exited (code 1)')
  expect(run.exitCode, run.all).toBe(0)
  expect(Date.now() - started).toBeLessThan(15_000)
  expect(readdirSync(runtime)).toEqual([])
}, 30_000)

// boot-priority.ts: while the guests boot, the lab's session runs at autogroup nice -5
// where the run may raise a priority (root, autogroups on); once the lab is ready, at 0 again.
test("the lab's processes run ahead of Vitest's while the guests boot, and at the normal priority once they are ready", async () => {
  const { launchLab } = (await import(pathToFileURL(join(import.meta.dirname, '..', 'dist', 'plugin', 'lab', 'lab.js')).href)) as typeof import('../plugin/lab/lab.js')
  const autogroupNice = (pid: number) => /nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]
  const raises = process.getuid?.() === 0 && readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1'
  const launched = await launchLab({ snapshots: false, bridges: { br0: { subnet: '10.46.1.0/24' } }, guests: { eager: { bridge: 'br0', ip: '10.46.1.2' } } }, { root: scratch })
  try {
    expect(autogroupNice(launched.descriptor.supervisorPid)).toBe(raises ? '-5' : '0')
    const lab = await launched.ready
    expect(autogroupNice(lab.descriptor.guests[0]!.qemuPid)).toBe('0')
    expect(autogroupNice(lab.descriptor.supervisorPid)).toBe('0')
  } finally {
    await launched.stop()
  }
}, 120_000)

// compile-cache.ts: this worker was started by a Vitest whose config has a lab.
// Skipped, and said so, where the user turned the cache off (NODE_DISABLE_COMPILE_CACHE): the plugin leaves it off.
test.skipIf(Boolean(process.env.NODE_DISABLE_COMPILE_CACHE))("Vitest's workers run with Node's compile cache, in the plugin's cache folder", () => {
  expect(process.env.NODE_COMPILE_CACHE).toMatch(/\/vitest-qemu\/node-compile-cache$/)
  // Node 20 ignores the variable; later ones fill the folder.
  if ('enableCompileCache' in nodeModule) expect(readdirSync(process.env.NODE_COMPILE_CACHE!).length).toBeGreaterThan(0)
})
