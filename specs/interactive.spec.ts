import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { execa } from 'execa'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { LabDescriptor } from 'vitest-qemu'
import { startFixtureRun } from './support/fixture-run.js'
import { type LabFootprint, footprintOf, isAlive, leftovers, waitUntil } from './support/host-state.js'

// The interactive lab as a person uses it, through real terminals (tmux): `up` in one
// window, `console` and `ssh` in another, Ctrl-C to end. The lab has its own subnet and
// runtime folder, so it runs beside the seed lab. And a failed run kept up with
// VITEST_QEMU_KEEP.

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(repo, 'dist', 'plugin', 'cli.js')
const config = join(repo, 'specs', 'fixtures', 'up-lab', 'vitest.config.ts')
const tmuxServer = `vq-interactive-${randomBytes(3).toString('hex')}`
const scratch = mkdtempSync(join(tmpdir(), 'vq-up-'))
const runtimeRoot = join(scratch, 'runtime')
const UP = 'lab:0'
const SHELL = 'lab:1'

function tmux(...args: string[]) {
  return execa('tmux', ['-L', tmuxServer, ...args])
}

/** What a window shows, scrollback included, without trailing blanks. */
async function screen(window: string): Promise<string> {
  const { stdout } = await tmux('capture-pane', '-p', '-J', '-S', '-300', '-t', window)
  return stdout.split('\n').map((line) => line.trimEnd()).join('\n').trimEnd()
}

/** Waits until the window shows `pattern`; on timeout, fails with what it shows. */
async function waitForScreen(window: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  let shown = ''
  const found = await waitUntil(async () => pattern.test((shown = await screen(window))), timeoutMs, 200)
  if (!found) throw new Error(`window ${window} never showed ${pattern} within ${timeoutMs} ms; it shows:\n${shown}`)
  return shown
}

async function type(window: string, line: string): Promise<void> {
  await tmux('send-keys', '-t', window, '-l', line)
  await tmux('send-keys', '-t', window, 'Enter')
}

/** Types a command line at the shell prompt of a window, after clearing it, so that only its output shows. */
async function run(window: string, line: string): Promise<void> {
  await type(window, 'clear')
  const cleared = await waitUntil(async () => {
    await tmux('clear-history', '-t', window)
    return (await screen(window)) === 'vq-shell$'
  }, 5000, 100)
  if (!cleared) throw new Error(`window ${window} is not at its shell prompt; it shows:\n${await screen(window)}`)
  await type(window, line)
}

let lab: LabDescriptor | undefined
let footprint: LabFootprint | undefined

beforeAll(async () => {
  const env = ['-e', `VITEST_QEMU_RUNTIME_DIR=${runtimeRoot}`]
  await tmux('new-session', '-d', '-s', 'lab', '-x', '160', '-y', '50', ...env, 'bash --norc --noprofile')
  await tmux('new-window', '-t', 'lab', ...env, 'bash --norc --noprofile')
  // A prompt the steps can recognise (bash does not take PS1 from the environment here).
  for (const window of [UP, SHELL]) await type(window, "PS1='vq-shell$ '")
})

afterAll(async () => {
  await tmux('kill-server').catch(() => {})
  // A failed step may leave `up` running: the SIGHUP of its closed terminal stops the lab; make sure.
  if (footprint && !(await waitUntil(async () => (await leftovers(footprint!)).length === 0, 15_000))) {
    if (lab && isAlive(lab.supervisorPid)) process.kill(lab.supervisorPid, 'SIGKILL')
  }
  expect((await tmux('has-session', '-t', 'lab').catch((error: { exitCode: number }) => error)).exitCode).not.toBe(0)
  rmSync(scratch, { recursive: true, force: true })
})

describe('interactive lab', () => {
  test('up boots the lab of a Vitest config, lists its guests and how to attach, and keeps running', async () => {
    await run(UP, `node ${cli} up --config ${config}; echo up-exit=$?`)
    const shown = await waitForScreen(UP, /press Ctrl-C to stop the lab/, 120_000)
    expect(shown).toMatch(/^GUEST +ARCH +BRIDGE +ADDRESS +MAC +SSH$/m)
    expect(shown).toMatch(/^alpha +x86_64 +upnet +10\.77\.0\.1\/24 +([0-9a-f]{2}:){5}[0-9a-f]{2} +yes$/m)
    expect(shown).toMatch(/^beta +x86_64 +upnet +10\.77\.0\.2\/24 +([0-9a-f]{2}:){5}[0-9a-f]{2} +yes$/m)
    expect(shown).toContain('npx vitest-qemu console alpha')
    expect(shown).toContain('npx vitest-qemu ssh alpha')

    const [runId, ...others] = readdirSync(runtimeRoot)
    expect(others).toEqual([])
    lab = JSON.parse(readFileSync(join(runtimeRoot, runId!, 'lab.json'), 'utf8')) as LabDescriptor
    footprint = footprintOf(lab)
    expect(shown).toContain(`lab ${lab.runId} is up`)
    expect(isAlive(lab.supervisorPid)).toBe(true)
  }, 150_000)

  test('console attaches to the serial console, runs what is typed, and Ctrl-] returns to the shell', async () => {
    await run(SHELL, `node ${cli} console alpha; echo console-exit=$?`)
    await waitForScreen(SHELL, /Ctrl-\] detaches[\s\S]*alpha:~#$/, 20_000)
    await type(SHELL, 'uname -a')
    await waitForScreen(SHELL, /^Linux alpha \S+ .*x86_64/m, 20_000)
    await tmux('send-keys', '-t', SHELL, '-H', '1d') // Ctrl-]
    const shown = await waitForScreen(SHELL, /console-exit=0\nvq-shell\$$/, 10_000)
    expect(shown).toContain('detached from alpha; the lab keeps running')
    expect(isAlive(lab!.supervisorPid)).toBe(true)
  }, 60_000)

  test('console names the guests there are when asked for one the lab has not', async () => {
    await run(SHELL, `node ${cli} console gamma; echo console-exit=$?`)
    const shown = await waitForScreen(SHELL, /console-exit=\d+/, 20_000)
    expect(shown).toContain(`the lab ${lab!.runId} has no guest named "gamma"; its guests: alpha, beta`)
    expect(shown).toContain('console-exit=1')
  }, 30_000)

  test('ssh runs one command, or a shell with a terminal, and passes the exit status on', async () => {
    await run(SHELL, `node ${cli} ssh beta -- hostname; echo ssh-exit=$?`)
    expect(await waitForScreen(SHELL, /ssh-exit=\d+/, 30_000)).toMatch(/^beta\s+ssh-exit=0$/m)

    await run(SHELL, `node ${cli} ssh alpha; echo ssh-exit=$?`)
    await waitForScreen(SHELL, /alpha:~#$/, 30_000)
    await type(SHELL, 'tty; stty size; exit 3')
    const shown = await waitForScreen(SHELL, /ssh-exit=\d+/, 20_000)
    expect(shown).toMatch(/^\/dev\/pts\/\d+$/m)
    expect(shown).toMatch(/^50 160$/m)
    expect(shown).toContain('ssh-exit=3')
  }, 60_000)

  test('Ctrl-C stops the lab: up exits 0 and nothing of the lab remains', async () => {
    await tmux('send-keys', '-t', UP, 'C-c')
    await waitForScreen(UP, /up-exit=0/, 20_000)
    const clean = await waitUntil(async () => (await leftovers(footprint!)).length === 0, 5000)
    expect(clean ? [] : await leftovers(footprint!)).toEqual([])
    expect(readdirSync(runtimeRoot)).toEqual([])

    await run(SHELL, `node ${cli} ssh alpha -- true; echo ssh-exit=$?`)
    const shown = await waitForScreen(SHELL, /ssh-exit=\d+/, 20_000)
    expect(shown).toContain('no lab is up; start one with npx vitest-qemu up')
    expect(shown).toContain('ssh-exit=1')
  }, 40_000)
})

describe('keep on failure', () => {
  test('VITEST_QEMU_KEEP=1: a run whose test failed keeps its lab up for ssh until SIGINT, then exits 1 and leaves nothing', async () => {
    const run = startFixtureRun('failing-run', [], { VITEST_QEMU_KEEP: '1' })
    let output = ''
    run.process.all!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      const kept = await waitUntil(() => output.includes('press Ctrl-C to tear down'), 120_000, 200)
      expect(kept, output).toBe(true)
      expect(stripVTControlCharacters(output)).toMatch(/Tests +1 failed/)
      const [runId] = readdirSync(run.runtimeRoot)
      const descriptor = JSON.parse(readFileSync(join(run.runtimeRoot, runId!, 'lab.json'), 'utf8')) as LabDescriptor
      const keptLab = footprintOf(descriptor)

      const ssh = await execa(process.execPath, [cli, 'ssh', 'client', '--', 'hostname'], { env: { VITEST_QEMU_RUNTIME_DIR: run.runtimeRoot }, reject: false, all: true })
      expect(ssh.exitCode, ssh.all).toBe(0)
      expect(ssh.stdout.trim()).toBe('client')

      run.process.kill('SIGINT')
      const result = await run.process
      expect(result.exitCode, result.all).toBe(1)
      const clean = await waitUntil(async () => (await leftovers(keptLab)).length === 0, 5000)
      expect(clean ? [] : await leftovers(keptLab)).toEqual([])
    } finally {
      run.process.kill('SIGKILL')
      rmSync(dirname(run.runtimeRoot), { recursive: true, force: true })
    }
  }, 180_000)
})
