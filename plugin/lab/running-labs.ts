import { readdirSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GuestDescriptor, LabDescriptor } from '../protocol/lab-descriptor.js'
import { existingRuntimeRoot } from '../run/runtime-dir.js'
import { readPrivateFile } from '../run/private-path.js'
import { isRunning } from '../run/process-identity.js'
import { readLedger, RUN_ID } from '../run/run-ledger.js'

// Labs that stay up for people to work in (`vitest-qemu up`, a failed run kept with
// VITEST_QEMU_KEEP) publish their descriptor in their runtime folder, so `console` and
// `ssh` in another terminal find them. The file goes when the folder does: at the lab's
// stop, or when the sweep removes what a dead run left.

const DESCRIPTOR_FILE = 'lab.json'

export async function publishLab(descriptor: LabDescriptor): Promise<void> {
  // 0600: it may hold a guest's SSH password.
  await writeFile(join(descriptor.runDir, DESCRIPTOR_FILE), `${JSON.stringify(descriptor)}\n`, { mode: 0o600 })
}

/**
 * Published labs whose supervisor still runs: a run folder's lab.json, read only when it
 * is a private file of this user, for the run its private ledger names, whose supervisor
 * (by pid and start time) is the one the ledger names and still runs.
 */
export function runningLabs(root = existingRuntimeRoot()): LabDescriptor[] {
  if (root === undefined) return []
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return []
  }
  const labs: LabDescriptor[] = []
  for (const name of names) {
    if (!RUN_ID.test(name)) continue
    const runDir = join(root, name)
    try {
      const ledger = readLedger(runDir, name)
      const descriptor = JSON.parse(readPrivateFile(join(runDir, DESCRIPTOR_FILE))) as LabDescriptor
      const supervisor = ledger.supervisor
      if (descriptor.runId !== name || !supervisor || descriptor.supervisorPid !== supervisor.pid || !isRunning(supervisor)) continue
      labs.push(descriptor)
    } catch {
      // not a published lab of this user, or one being removed right now
    }
  }
  return labs
}

/** The lab to attach to: the only one up, or the one with the given run id; errors say what to do. */
export function chooseRunningLab(labs: LabDescriptor[], runId: string | undefined): LabDescriptor {
  const list = () => labs.map((lab) => `  ${lab.runId}: ${lab.guests.map((guest) => guest.name).join(', ')}`).join('\n')
  if (runId !== undefined) {
    const lab = labs.find((candidate) => candidate.runId === runId)
    if (lab) return lab
    if (labs.length === 0) throw new Error(`vitest-qemu: no lab is up (looked for run ${runId}); start one with npx vitest-qemu up`)
    throw new Error(`vitest-qemu: no lab with run id ${runId} is up; labs that are up:\n${list()}`)
  }
  if (labs.length === 0) throw new Error('vitest-qemu: no lab is up; start one with npx vitest-qemu up')
  if (labs.length > 1) throw new Error(`vitest-qemu: ${labs.length} labs are up; choose one with --run <id>:\n${list()}`)
  return labs[0]!
}

export function guestOf(lab: LabDescriptor, name: string): GuestDescriptor {
  const guest = lab.guests.find((candidate) => candidate.name === name)
  if (!guest) throw new Error(`vitest-qemu: the lab ${lab.runId} has no guest named ${JSON.stringify(name)}; its guests: ${lab.guests.map((candidate) => candidate.name).join(', ')}`)
  return guest
}
