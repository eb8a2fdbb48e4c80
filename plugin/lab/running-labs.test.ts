import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
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
