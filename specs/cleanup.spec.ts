import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { describe, expect, test } from 'vitest'
import { type LabDescriptor, startLab } from 'vitest-qemu'
import { footprintOf, hostNetworkState, leftovers, waitUntil } from './support/host-state.js'

// A lab must leave nothing behind: not after a normal stop, not after Ctrl-C.

const here = dirname(fileURLToPath(import.meta.url))
const vitestBin = join(here, '..', 'node_modules', 'vitest', 'vitest.mjs')

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

  test('after Ctrl-C during a test, everything of the run is gone within 2 s', async () => {
    const before = await hostNetworkState()
    const descriptorFile = join(mkdtempSync(join(tmpdir(), 'vq-interrupt-')), 'lab.json')
    const run = execa(process.execPath, [vitestBin, 'run', '--root', join(here, 'fixtures', 'interrupted-run')], {
      env: { VQ_DESCRIPTOR_FILE: descriptorFile },
      reject: false,
      all: true,
    })
    const started = await waitUntil(() => existsSync(descriptorFile) && readFileSync(descriptorFile, 'utf8').endsWith('}'), 120_000, 100)
    if (!started) {
      run.kill('SIGKILL')
      throw new Error(`the interrupted run never reached its test:\n${(await run).all}`)
    }
    const descriptor = JSON.parse(readFileSync(descriptorFile, 'utf8')) as LabDescriptor
    const footprint = footprintOf(descriptor)
    run.kill('SIGINT')
    const result = await run
    expect(result.exitCode, result.all).not.toBe(0)
    const clean = await waitUntil(async () => (await leftovers(footprint)).length === 0, 2000)
    expect(clean ? [] : await leftovers(footprint)).toEqual([])
    expect(await hostNetworkState()).toBe(before)
  })
})
