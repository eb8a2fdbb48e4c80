import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import type { LabDescriptor } from '../protocol/lab-descriptor.js'
import { chooseRunningLab, guestOf, runningLabs } from './running-labs.js'

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

test('only published labs whose supervisor runs are found', () => {
  root = mkdtempSync(join(tmpdir(), 'vq-running-labs-'))
  const publish = (descriptor: LabDescriptor) => {
    mkdirSync(join(root!, descriptor.runId))
    writeFileSync(join(root!, descriptor.runId, 'lab.json'), JSON.stringify(descriptor))
  }
  // No process of this test is a supervisor: a pid that exists but runs something else counts as gone.
  publish(lab('dead0000', ['guestA'], process.pid))
  mkdirSync(join(root, 'unpublished'))
  expect(runningLabs(root)).toEqual([])
})
