import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, onTestFinished, test } from 'vitest'
import type { LabDescriptor } from '../protocol/lab-descriptor.js'
import { chooseRunningLab, guestOf, runningLabs } from './running-labs.js'
import { processIdentity, type ProcessIdentity } from '../run/process-identity.js'
import { writeLedger } from '../run/run-ledger.js'

function lab(runId: string, guests: string[], supervisorPid = 1): LabDescriptor {
  return {
    runId,
    runDir: `/rt/${runId}`,
    logDir: `/logs/${runId}`,
    controlSocket: `/rt/${runId}/control.sock`,
    network: 'namespace',
    supervisorPid,
    bridges: [],
    captures: [],
    guests: guests.map((name) => ({ name }) as LabDescriptor['guests'][number]),
  }
}

test('with none up, the error says how to start one', () => {
  expect(() => chooseRunningLab([], undefined)).toThrow('no lab is up; start one with npx vitest-qemu up')
})

test('the only lab up is chosen; with several, --run chooses and the error lists them', () => {
  const one = lab('aaaa1111', ['guestA', 'guestB'])
  const two = lab('bbbb2222', ['alpha'])
  expect(chooseRunningLab([one], undefined)).toBe(one)
  expect(chooseRunningLab([one, two], 'bbbb2222')).toBe(two)
  expect(() => chooseRunningLab([one, two], undefined)).toThrow('2 labs are up; choose one with --run <id>:\n  aaaa1111: guestA, guestB\n  bbbb2222: alpha')
  expect(() => chooseRunningLab([one], 'cccc3333')).toThrow('no lab with run id cccc3333 is up; labs that are up:\n  aaaa1111: guestA, guestB')
})

test('an unknown guest: the error lists the guests there are', () => {
  expect(() => guestOf(lab('aaaa1111', ['guestA', 'guestB']), 'guestC')).toThrow('the lab aaaa1111 has no guest named "guestC"; its guests: guestA, guestB')
})

let root: string | undefined
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true })
})

test('only published labs whose supervisor runs are found, read from private files of this user', async () => {
  root = mkdtempSync(join(tmpdir(), 'vq-running-labs-'))
  const self = processIdentity(process.pid)!
  const publish = async (descriptor: LabDescriptor, supervisor: ProcessIdentity, mode = 0o600) => {
    const dir = join(root!, descriptor.runId)
    mkdirSync(dir, { mode: 0o700 })
    await writeLedger(dir, { runId: descriptor.runId, uid: process.getuid!(), testProcess: self, supervisor, testProcessPid: self.pid, supervisorPid: supervisor.pid, startedAt: '' })
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(descriptor), { mode })
    return dir
  }
  // This process stands in for a running supervisor.
  await publish(lab('aaaa0001', ['guestA'], process.pid), self)
  // A supervisor that ended (its pid now taken by another process started later).
  await publish(lab('aaaa0002', ['guestA'], process.pid), { ...self, startTime: self.startTime - 1 })
  // A descriptor someone else could have written.
  await publish(lab('aaaa0003', ['guestA'], process.pid), self, 0o644)
  // A descriptor naming a pid the ledger does not.
  await publish(lab('aaaa0004', ['guestA'], 1), self)
  // A lab.json that is a symlink to a private file.
  const linked = await publish(lab('aaaa0005', ['guestA'], process.pid), self)
  renameSync(join(linked, 'lab.json'), join(root, 'elsewhere.json'))
  symlinkSync(join(root, 'elsewhere.json'), join(linked, 'lab.json'))
  mkdirSync(join(root, 'unpublished'))
  expect(runningLabs(root).map((found) => found.runId)).toEqual(['aaaa0001'])
})

async function publishIn(dir: string, descriptor: LabDescriptor, supervisor: ProcessIdentity): Promise<void> {
  const self = processIdentity(process.pid)!
  const runDir = join(dir, descriptor.runId)
  mkdirSync(runDir, { mode: 0o700 })
  await writeLedger(runDir, { runId: descriptor.runId, uid: process.getuid!(), testProcess: self, supervisor, testProcessPid: self.pid, supervisorPid: supervisor.pid, startedAt: '' })
  writeFileSync(join(runDir, 'lab.json'), JSON.stringify({ ...descriptor, runDir }), { mode: 0o600 })
}

/** A child process that stands in for a lab's supervisor: alive until killed. */
async function standInSupervisor(): Promise<{ identity: ProcessIdentity; stop: () => Promise<void> }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' })
  await once(child, 'spawn')
  const exited = once(child, 'exit')
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  onTestFinished(stop)
  return { identity: processIdentity(child.pid!)!, stop }
}

test('a lab whose supervisor runs is listed with its descriptor; once the supervisor ends, it is not', async () => {
  root = mkdtempSync(join(tmpdir(), 'vq-running-labs-'))
  const supervisor = await standInSupervisor()
  await publishIn(root, lab('aaaa0010', ['guestA', 'guestB'], supervisor.identity.pid), supervisor.identity)
  const [found, ...others] = runningLabs(root)
  expect(others).toEqual([])
  expect(found).toMatchObject({ runId: 'aaaa0010', runDir: join(root, 'aaaa0010'), supervisorPid: supervisor.identity.pid })
  expect(found!.guests.map((guest) => guest.name)).toEqual(['guestA', 'guestB'])
  expect(chooseRunningLab(runningLabs(root), undefined).runId).toBe('aaaa0010')

  await supervisor.stop()
  expect(runningLabs(root)).toEqual([])
  expect(() => chooseRunningLab(runningLabs(root), undefined)).toThrow('no lab is up')
})

test('every live lab is listed, and only those: dead and foreign runs beside them are left out', async () => {
  root = mkdtempSync(join(tmpdir(), 'vq-running-labs-'))
  const first = await standInSupervisor()
  const second = await standInSupervisor()
  const gone = await standInSupervisor()
  await publishIn(root, lab('aaaa0021', ['alpha'], first.identity.pid), first.identity)
  await publishIn(root, lab('aaaa0022', ['beta'], second.identity.pid), second.identity)
  await publishIn(root, lab('aaaa0023', ['gamma'], gone.identity.pid), gone.identity)
  await gone.stop()
  // A descriptor copied into another run's folder: its run id is not the folder's.
  await publishIn(root, lab('aaaa0024', ['delta'], first.identity.pid), first.identity)
  writeFileSync(join(root, 'aaaa0024', 'lab.json'), JSON.stringify(lab('aaaa0021', ['delta'], first.identity.pid)), { mode: 0o600 })
  // A published lab with no ledger, and one whose lab.json is not JSON.
  await publishIn(root, lab('aaaa0025', ['epsilon'], first.identity.pid), first.identity)
  rmSync(join(root, 'aaaa0025', 'ledger.json'))
  await publishIn(root, lab('aaaa0026', ['zeta'], first.identity.pid), first.identity)
  writeFileSync(join(root, 'aaaa0026', 'lab.json'), '{"runId": "aaaa00', { mode: 0o600 })
  // A folder whose name is not a run id, holding a valid lab.
  await publishIn(root, lab('aaaa0027', ['eta'], first.identity.pid), first.identity)
  renameSync(join(root, 'aaaa0027'), join(root, 'not-a-run'))

  const found = runningLabs(root).map((descriptor) => descriptor.runId).sort()
  expect(found).toEqual(['aaaa0021', 'aaaa0022'])
  expect(() => chooseRunningLab(runningLabs(root), undefined)).toThrow('2 labs are up')
  expect(chooseRunningLab(runningLabs(root), 'aaaa0022').guests.map((guest) => guest.name)).toEqual(['beta'])
})

test('a runtime root that does not exist lists no lab', () => {
  expect(runningLabs(join(tmpdir(), 'vq-running-labs-missing-' + process.pid))).toEqual([])
})
