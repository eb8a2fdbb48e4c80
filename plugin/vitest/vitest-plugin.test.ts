import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { qemuLab } from './vitest-plugin.js'

const scratch = () => mkdtempSync(join(tmpdir(), 'vq-plugin-'))

const config = { bridges: { br0: { subnet: '10.9.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.9.0.2' } } }

describe('qemuLab', () => {
  test('registers the global setup, and has the package loaded natively and its run folders not watched', () => {
    const { test: testConfig, server } = qemuLab(config).config({ root: scratch() })
    expect(testConfig.globalSetup).toHaveLength(1)
    const [own] = testConfig.server.deps.external
    // Its own files wherever they are, and nothing beside them.
    const packageRoot = fileURLToPath(new URL('../..', import.meta.url))
    expect(own!.test(`${packageRoot}plugin/vitest/global-setup.js`)).toBe(true)
    expect(own!.test('/project/specs/seed.spec.ts')).toBe(false)
    expect(server.watch.ignored).toEqual(['**/.vitest-qemu/**', '**/vitest-qemu-env.d.ts'])
    expect(testConfig.fileParallelism).toBeUndefined()
  })

  test("isolation: 'per-file' runs files one at a time", () => {
    expect(qemuLab({ ...config, isolation: 'per-file' }).config({ root: scratch() }).test.fileParallelism).toBe(false)
  })

  test('a bad config fails when Vitest reads it, naming the guest and the field', () => {
    expect(() => qemuLab({ ...config, guests: { a: { bridge: 'nope', ip: '10.9.0.2' } } }).config({ root: scratch() })).toThrow(/a.*bridge/)
  })

  test("loading the config writes the guest names of every lab of the root into vitest-qemu-env.d.ts", () => {
    const root = scratch()
    qemuLab(config).config({ root })
    qemuLab({ bridges: config.bridges, guests: { web: { bridge: 'br0', ip: '10.9.0.3' } } }).config({ root })
    const text = readFileSync(join(root, 'vitest-qemu-env.d.ts'), 'utf8')
    expect(text).toContain('interface VitestQemuGuests {\n    a: true\n    web: true\n  }')
  })
})
