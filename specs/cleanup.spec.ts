import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { describe, expect, test } from 'vitest'
import { startLab } from 'vitest-qemu'
import { startFixtureRun, waitForBooting, waitForTest } from './support/fixture-run.js'
import { footprintOf, hostNetworkState, leftovers, processesWithEnv, waitUntil } from './support/host-state.js'

// A lab must leave nothing behind: not after a normal stop, not after Ctrl-C, SIGTERM
// or SIGKILL of Vitest, whether the guests are still booting or a test is running.

const signalNumbers = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 } as const

describe('cleanup', () => {
  test('after stop, no process, namespace or runtime file of the lab remains, and the host is unchanged', async () => {
    const before = await hostNetworkState()
    const lab = await startLab({
      bridges: { lan0: { subnet: '10.66.0.0/24' } },
      guests: { solo: { bridge: 'lan0', ip: '10.66.0.5' } },
    })
    const footprint = footprintOf(lab.descriptor)
    expect(footprint.namespace).not.toBe(readlinkSync('/proc/self/ns/net'))
    expect(existsSync(footprint.runDir)).toBe(true)
    await lab.stop()
    expect(await leftovers(footprint)).toEqual([])
    expect(await hostNetworkState()).toBe(before)
  })

  // Each start prunes the project's run folders to the last 10: never that of a lab still
  // running (Vitest's own lab lives through every run a spec starts meanwhile).
  test("a running lab's log folder is kept however many runs started after it; stopped runs beyond the last 10 are pruned", async () => {
    const root = mkdtempSync(join(tmpdir(), 'vq-run-logs-'))
    const config = (ip: string) => ({ bridges: { lan0: { subnet: '10.67.0.0/24' } }, guests: { solo: { bridge: 'lan0', ip } } })
    try {
      const first = await startLab(config('10.67.0.5'), { root })
      try {
        // Twelve runs that came and went after it.
        const runs = join(root, '.vitest-qemu', 'runs')
        for (let index = 0; index < 12; index++) mkdirSync(join(runs, `stopped${String(index).padStart(2, '0')}`))
        const second = await startLab(config('10.67.0.6'), { root })
        await second.stop()
        expect(existsSync(first.logDir)).toBe(true)
        expect(readdirSync(runs)).toHaveLength(11)
        expect(readdirSync(runs)).toContain(first.descriptor.runId)
      } finally {
        await first.stop()
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  // Node loads the plugin's global setup once for all projects: each project's teardown
  // must still stop its own lab, or Vitest waits for the other one and then gives up.
  test('two projects with a lab each: every lab is stopped by its own project, and Vitest exits at once', async () => {
    const run = startFixtureRun('two-labs-run')
    const result = await run.process
    const output = stripVTControlCharacters(result.all)
    expect(output).toMatch(/Tests\s+2 passed/)
    expect(output).not.toMatch(/close timed out|prevents the main process from exiting/)
    expect(result.exitCode, output).toBe(0)
    expect(readdirSync(run.runtimeRoot)).toEqual([])
  })

  const cases = [
    ['SIGKILL', 'the guests boot'],
    ['SIGINT', 'the guests boot'],
    ['SIGKILL', 'a test runs'],
    ['SIGINT', 'a test runs'],
    ['SIGTERM', 'a test runs'],
  ] as const
  test.each(cases)('after %s of Vitest while %s, everything of the run is gone within 2 s', async (signal, phase) => {
    const before = await hostNetworkState()
    const run = startFixtureRun('interrupted-run')
    const footprint = phase === 'the guests boot' ? await waitForBooting(run, 2) : footprintOf(await waitForTest(run))
    expect(footprint.pids.length).toBeGreaterThanOrEqual(3)
    run.process.kill(signal)
    const result = await run.process
    const everything = async () => [
      ...(await leftovers(footprint)),
      ...processesWithEnv('VQ_DESCRIPTOR_FILE', run.descriptorFile).map((pid) => `test worker ${pid}`),
    ]
    const clean = await waitUntil(async () => (await everything()).length === 0, 2000)
    expect(clean ? [] : await everything()).toEqual([])
    // The exit status says the run was interrupted: killed by the signal, or 128 + its number.
    expect(result.signal === signal || result.exitCode === 128 + signalNumbers[signal], `exit ${result.exitCode}, signal ${result.signal}\n${result.all}`).toBe(true)
    expect(await hostNetworkState()).toBe(before)
  })
})
