import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { stripVTControlCharacters } from 'node:util'
import { execa } from 'execa'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { attachLab, startLab } from 'vitest-qemu'
import { startFixtureRun } from './support/fixture-run.js'
import { waitUntil } from './support/host-state.js'

// Watch mode keeps the lab up between reruns, and each rerun starts from freshly booted
// guests: the fixture leaves a mark in a guest and fails if it finds one. A green run's
// guests are reset at its end, a failed run's at the next change. With
// isolation: 'per-file', every file starts that way.

const watchSpec = join(import.meta.dirname, 'fixtures', 'watch-run', 'seed.fixture.ts')
// Vitest's line at the end of each watch run: "Waiting for file changes" when green, "Watching for file changes" when not.
const waitingLines = (output: string) => output.split(/(?:Waiting|Watching) for file changes/).length - 1
const rerunLines = (output: string) => output.split(/\bRERUN\b/).length - 1

describe('watch mode', () => {
  // Its own timeout, longer than its waits together, so that a wait that runs out fails
  // with the fixture run's output rather than a bare test timeout.
  test('a rerun after a change reuses the running guests, reset to their booted state', { timeout: 300_000 }, async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'vq-watch-flag-'))
    const failFlag = join(scratch, 'fail')
    const run = startFixtureRun('watch-run', [], { DEBUG: 'vitest-qemu:lab', WATCH_RUN_FAIL_FLAG: failFlag }, 'watch')
    let output = ''
    // Colours off (Vitest colours its summary lines when it may).
    run.process.all!.on('data', (chunk: Buffer) => (output += stripVTControlCharacters(chunk.toString())))
    const told = () => `fixture run output, ${new Date().toISOString()}:\n${output}`
    const count = (text: string) => output.split(text).length - 1
    const rerun = async (number: number) => {
      // Vitest's file watcher is not ours to test: should it miss a touch, touch again.
      for (let touch = 0; touch < 3 && !(await waitUntil(() => rerunLines(output) >= number, touch === 0 ? 0 : 10_000, 50)); touch++) {
        const now = new Date()
        utimesSync(watchSpec, now, now)
      }
      expect(await waitUntil(() => waitingLines(output) >= number + 1, 60_000, 50), told()).toBe(true)
    }
    try {
      expect(await waitUntil(() => waitingLines(output) >= 1, 120_000, 100), told()).toBe(true)
      expect(output).toMatch(/1 passed/)
      const qemuStarts = output.split('qemu ready after').length
      const qemus = async () => (await execa('pgrep', ['-f', `qemu-system.*${run.runtimeRoot}`])).stdout.split('\n').sort()
      const qemusBefore = await qemus()
      expect(qemusBefore).toHaveLength(2)
      // A green run's guests are reset at its end, so each rerun finds them reset already.
      for (let number = 1; number <= 2; number++) {
        expect(await waitUntil(() => count('guests reset for the next run') >= number, 30_000, 50), told()).toBe(true)
        await rerun(number)
      }
      expect(await waitUntil(() => count('guests reset for the next run') >= 3, 30_000, 50), told()).toBe(true)
      expect(count('guests reset for the rerun'), told()).toBe(0)
      expect(output, told()).not.toMatch(/failed/)
      expect(output.split(/Tests\s+1 passed/).length - 1, told()).toBe(3)
      // A failed run's guests stay as its test left them until the next change, which resets them.
      writeFileSync(failFlag, '')
      await rerun(3)
      expect(output.slice(output.lastIndexOf('Test Files')), told()).toMatch(/Tests\s+1 failed/)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      expect(count('guests reset for the next run'), told()).toBe(3)
      rmSync(failFlag)
      await rerun(4)
      expect(output.slice(output.lastIndexOf('Test Files')), told()).toMatch(/Tests\s+1 passed/)
      expect(count('guests reset for the rerun'), told()).toBe(1)
      // No boot after the first: the guests were restored, not started again; and restored
      // inside their QEMUs (a loadvm of the reset point each keeps), not by new ones.
      expect(output.split('qemu ready after').length, told()).toBe(qemuStarts)
      expect(await qemus()).toEqual(qemusBefore)
      expect(output, told()).not.toMatch(/reset point could not/)
    } finally {
      run.process.kill('SIGINT')
      await run.process
      rmSync(scratch, { recursive: true, force: true })
    }
    // Nothing of the run is left: no runtime folder, no QEMU (its command line names the folder).
    expect(readdirSync(run.runtimeRoot)).toEqual([])
    expect((await execa('pgrep', ['-f', run.runtimeRoot], { reject: false })).exitCode).toBe(1)
  })

  test('a supervisor that dies ends the watch session within seconds, saying why', { timeout: 180_000 }, async () => {
    const run = startFixtureRun('watch-run', [], {}, 'watch')
    let output = ''
    run.process.all!.on('data', (chunk: Buffer) => (output += stripVTControlCharacters(chunk.toString())))
    const told = () => `fixture run output:\n${output}`
    try {
      expect(await waitUntil(() => waitingLines(output) >= 1, 120_000, 100), told()).toBe(true)
      // The supervisor is a child of the watching Vitest (unshare runs it in place).
      const supervisor = await execa('pgrep', ['-P', String(run.process.pid), '-f', 'supervisor.js'])
      process.kill(Number(supervisor.stdout.trim().split('\n')[0]), 'SIGKILL')
      const killedAt = Date.now()
      const result = await Promise.race([run.process, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000))])
      expect(result, told()).toBeDefined()
      expect(result!.exitCode, told()).toBe(1)
      expect(Date.now() - killedAt).toBeLessThan(15_000)
      expect(output).toMatch(/is gone \(the supervisor exited \(SIGKILL\)\); ending the watch session/)
    } finally {
      run.process.kill('SIGKILL')
      await run.process.catch(() => {})
    }
    expect((await execa('pgrep', ['-f', run.runtimeRoot], { reject: false })).exitCode).toBe(1)
  })

  test("isolation: 'per-file' gives every file the guests as they were after boot", async () => {
    const run = startFixtureRun('per-file-run')
    const result = await run.process
    expect(stripVTControlCharacters(result.all)).toMatch(/Tests\s+2 passed/)
    expect(result.exitCode, result.all).toBe(0)
  })

  test("isolation: 'per-file' still resets, by a new QEMU, when qemu-img cannot make the reset point's file", async () => {
    // A qemu-img that fails, first on PATH.
    const bin = mkdtempSync(join(tmpdir(), 'vq-no-qemu-img-'))
    writeFileSync(join(bin, 'qemu-img'), '#!/bin/sh\necho "qemu-img: refused for this test" >&2\nexit 1\n', { mode: 0o755 })
    const run = startFixtureRun('per-file-run', [], { PATH: `${bin}:${process.env.PATH}`, DEBUG: 'vitest-qemu:lab' })
    const result = await run.process
    const output = stripVTControlCharacters(result.all)
    expect(output).toMatch(/Tests\s+2 passed/)
    expect(result.exitCode, result.all).toBe(0)
    expect(output).toMatch(/guestA: each reset starts a new QEMU \(qemu-img create .* refused for this test\)/)
    rmSync(bin, { recursive: true, force: true })
  })

  test("isolation: 'per-test' brings back the guests each test used, and only those", async () => {
    const run = startFixtureRun('per-test-run')
    const result = await run.process
    expect(stripVTControlCharacters(result.all)).toMatch(/Tests\s+3 passed/)
    expect(result.exitCode, result.all).toBe(0)
  })

  // In watch mode Vitest resets the guests from the main process; a worker that lives on
  // (isolate: false) still holds SSH connections to the guests as they were. Its next
  // command must reach the reset guest, not fail on a connection to the old one.
  test('after a reset made elsewhere, an SSH handle kept from before reaches the reset guest', { timeout: 120_000 }, async () => {
    const started = await startLab(
      { bridges: { wr0: { subnet: '10.57.0.0/24' } }, guests: { keeper: { bridge: 'wr0', ip: '10.57.0.2' } } },
      { resettable: true },
    )
    const lab = attachLab(started.descriptor)
    try {
      const keeper = lab.guest('keeper')
      await keeper.ssh.exec('echo before > /tmp/mark')
      expect((await keeper.ssh.exec('cat /tmp/mark')).stdout).toBe('before\n')
      await started.reset()
      // The reset guest has no mark: the command ran on it, over a new connection.
      expect(await keeper.ssh.exec('cat /tmp/mark 2>/dev/null || echo none')).toMatchObject({ stdout: 'none\n', exitCode: 0 })
    } finally {
      lab.close()
      await started.stop()
    }
  })
})
