import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { qemuLab } from './vitest-plugin.js'

const config = { bridges: { br0: { subnet: '10.9.0.0/24' } }, guests: { a: { bridge: 'br0', ip: '10.9.0.2' } } }

describe('qemuLab', () => {
  test('registers the global setup, and has the package loaded natively and its run folders not watched', () => {
    const { test: testConfig, server } = qemuLab(config).config({ root: '/project' })
    expect(testConfig.globalSetup).toHaveLength(1)
    const [own] = testConfig.server.deps.external
    // Its own files wherever they are, and nothing beside them.
    const packageRoot = fileURLToPath(new URL('../..', import.meta.url))
    expect(own!.test(`${packageRoot}plugin/vitest/global-setup.js`)).toBe(true)
    expect(own!.test('/project/specs/seed.spec.ts')).toBe(false)
    expect(server.watch.ignored).toEqual(['**/.vitest-qemu/**'])
    expect(testConfig.fileParallelism).toBeUndefined()
  })

  test("isolation: 'per-file' runs files one at a time", () => {
    expect(qemuLab({ ...config, isolation: 'per-file' }).config({}).test.fileParallelism).toBe(false)
  })

  test('a bad config fails when Vitest reads it, naming the guest and the field', () => {
    expect(() => qemuLab({ ...config, guests: { a: { bridge: 'nope', ip: '10.9.0.2' } } }).config({})).toThrow(/a.*bridge/)
  })
})
