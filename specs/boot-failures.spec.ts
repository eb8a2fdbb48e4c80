import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { stripVTControlCharacters } from 'node:util'
import { execa } from 'execa'
import { describe, expect, test } from 'vitest'
import { defaultImagePaths, startLab } from 'vitest-qemu'
import { startFixtureRun } from './support/fixture-run.js'

// A guest that cannot boot fails fast and says why: a kernel panic ends the wait at
// once with the panic line; a guest that never prints fails at its stage's timeout,
// naming the stage. Either way nothing of the lab stays up.

const bridges = { lan: { subnet: '10.44.0.0/24' } }
// Guest names of this run's own: the same spec in another checkout on the machine boots
// its own 'broken' guest meanwhile, whose QEMU is none of this run's business.
const tag = randomBytes(3).toString('hex')
const broken = `broken${tag}`
const silent = `silent${tag}`
// pgrep exits 1 when nothing matches (2 on a usage error, so the check cannot pass by accident).
// `within`: only QEMUs whose command line names that folder (a fixture run's runtime root).
const qemuOf = async (guest: string, within?: string) => {
  const found = await execa('pgrep', ['-af', '--', `-name guest=${guest} `], { reject: false })
  if (found.exitCode === 0 && within !== undefined && !found.stdout.split('\n').some((line) => line.includes(within))) return 'none'
  return found.exitCode === 1 ? 'none' : `exit ${found.exitCode}: ${found.stdout}${found.stderr}`
}

describe('boot failures', () => {
  test('a kernel panic fails the guest within 10 s, with the panic line in the error', async () => {
    const started = Date.now()
    // No init at all: the kernel finds nothing to run and panics.
    const error = await startLab({ bridges, guests: { [broken]: { bridge: 'lan', ip: '10.44.0.2', append: 'rdinit=/no/such/init' } } }).catch((caught: Error) => caught)
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(Error)
    expect(String(error)).toMatch(new RegExp(`${broken}: not ready at stage '(console|shell)' after [\\d.]+ s: Kernel panic - not syncing`))
    expect(String(error)).toContain('last console lines')
    expect(elapsed).toBeLessThan(10_000)
    expect(await qemuOf(broken)).toBe('none')
  })

  test('a guest that never prints fails at its stage timeout, naming the stage and the time', async () => {
    const image = defaultImagePaths('x86_64')
    const started = Date.now()
    // The kernel is told to print on a serial port the machine does not have: the console stays silent.
    const error = await startLab({
      bridges,
      guests: { [silent]: { bridge: 'lan', ip: '10.44.0.3', kernel: image.kernel, initrd: image.initrd, console: 'ttyS3', bootTimeout: 4000 } },
    }).catch((caught: Error) => caught)
    expect(String(error)).toMatch(new RegExp(`${silent}: not ready at stage 'console' after [\\d.]+ s: no progress within 4000 ms`))
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(await qemuOf(silent)).toBe('none')
  })

  test('through Vitest, a guest that panics fails the run once, with the panic line, and runs no test', async () => {
    const run = startFixtureRun('panic-run')
    const result = await run.process
    const output = stripVTControlCharacters(result.all)
    expect(result.exitCode, output).toBe(1)
    expect(output).toMatch(/the lab did not come up:\s+broken: not ready at stage '(console|shell)' after [\d.]+ s: Kernel panic - not syncing/)
    expect(output).not.toMatch(/never runs/)
    expect(readdirSync(run.runtimeRoot)).toEqual([])
    expect(await qemuOf('broken', run.runtimeRoot)).toBe('none')
  })
})
