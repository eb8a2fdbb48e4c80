import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { afterEach, describe, expect, test } from 'vitest'
import { startFixtureRun } from './support/fixture-run.js'

// Sweeps run at every lab start and in `vitest-qemu cleanup`, so on a busy machine they
// race each other and live runs: runs started together in a root full of dead runs'
// folders all pass (their sweeps removing folders under each other), `cleanup` looping
// while runs start and stop never hurts one, and what is not a dead run of this user
// (a live run, a folder of another name) is never touched.

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'plugin', 'cli.js')
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
let root: string

afterEach(() => rmSync(root, { recursive: true, force: true }))

function privateRoot(): string {
  root = join(mkdtempSync(join(tmpdir(), 'vq-sweep-')), 'runtime')
  mkdirSync(root, { mode: 0o700 })
  return root
}

/** A run folder whose ledger names processes that ended: what a SIGKILLed run leaves. */
function plantRun(runId: string, pid: number, startTime: number): void {
  const dir = join(root, runId)
  mkdirSync(dir, { mode: 0o700 })
  const identity = { pid, startTime, bootId }
  const ledger = { runId, uid: process.getuid!(), testProcess: identity, supervisor: identity, testProcessPid: pid, supervisorPid: pid, startedAt: new Date().toISOString() }
  writeFileSync(join(dir, 'ledger.json'), `${JSON.stringify(ledger)}\n`, { mode: 0o600 })
  writeFileSync(join(dir, 'guestA.console.log'), 'what a dead run printed\n', { mode: 0o600 })
}

const runId = (n: number, prefix: string) => `${prefix}${n.toString(16).padStart(8 - prefix.length, '0')}`

/** This process, by the identity the ledger uses: a run that is live for as long as the spec runs. */
function liveIdentity(): { pid: number; startTime: number } {
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8')
  return { pid: process.pid, startTime: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) }
}

function plantDeadAndLive(dead: number): string[] {
  const ended = spawnSync('true').pid!
  const planted = Array.from({ length: dead }, (_, n) => runId(n, 'dead'))
  for (const id of planted) plantRun(id, ended, 1)
  const live = liveIdentity()
  plantRun('11ee11ee', live.pid, live.startTime)
  mkdirSync(join(root, 'photos'))
  return planted
}

describe('sweeps under load', { timeout: 600_000 }, () => {
  test('three runs started together in a root holding 50 dead runs all pass; the dead runs go, a live run and another folder stay', async () => {
    privateRoot()
    const dead = plantDeadAndLive(50)
    const runs = [0, 1, 2].map(() => startFixtureRun('one-guest-run', [], { VITEST_QEMU_RUNTIME_DIR: root }))
    const results = await Promise.all(runs.map((run) => run.process))
    for (const result of results) expect(result.exitCode, result.all).toBe(0)
    const left = readdirSync(root)
    for (const id of dead) expect(left).not.toContain(id)
    expect(left.sort()).toEqual(['11ee11ee', 'photos'])
  })

  test('`cleanup` looping while 10 runs start and stop (two at a time): every run passes, every cleanup succeeds', async () => {
    privateRoot()
    plantDeadAndLive(10)
    const env = { ...process.env, VITEST_QEMU_RUNTIME_DIR: root }
    let running = true
    const cleanups: { exitCode?: number; all?: string }[] = []
    const loop = (async () => {
      while (running) cleanups.push(await execa(process.execPath, [cli, 'cleanup'], { env, reject: false, all: true }))
    })()
    const outcomes: { exitCode?: number; all?: string }[] = []
    try {
      for (let round = 0; round < 5; round++) {
        const pair = [0, 1].map(() => startFixtureRun('one-guest-run', [], { VITEST_QEMU_RUNTIME_DIR: root }))
        outcomes.push(...(await Promise.all(pair.map((run) => run.process))))
      }
    } finally {
      running = false
      await loop
    }
    expect(outcomes).toHaveLength(10)
    for (const outcome of outcomes) expect(outcome.exitCode, outcome.all).toBe(0)
    // Enough cleanups to have met runs in every phase: starting, booting, testing, stopping.
    expect(cleanups.length).toBeGreaterThanOrEqual(10)
    for (const cleanup of cleanups) expect(cleanup.exitCode, cleanup.all).toBe(0)
    expect(readdirSync(root).sort()).toEqual(['11ee11ee', 'photos'])
  })
})
