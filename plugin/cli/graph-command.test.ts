import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { graphCommand } from './graph-command.js'

describe('graphCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-graph-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  // A config whose plugin has the shape qemuLab(...) returns; a missing kernel file does not stop the drawing.
  writeFileSync(
    join(dir, 'vitest.config.mjs'),
    `const lab = { bridges: { br0: { subnet: '192.168.7.0/24' } }, guests: { guestA: { bridge: 'br0', ip: '192.168.7.1', kernel: 'not-built-yet/bzImage', ssh: false } } }
export default { plugins: [{ name: 'vitest-qemu', api: { labConfig: lab } }] }
`,
  )

  test('finds the config in the folder and writes the drawing to --out', async () => {
    expect(await graphCommand({ format: 'svg', out: 'lab.svg' }, dir)).toBe(0)
    expect(readFileSync(join(dir, 'lab.svg'), 'utf8')).toContain('>br0: 192.168.7.1/24')
    expect(await graphCommand({ format: 'mermaid', out: 'lab.mmd' }, dir)).toBe(0)
    expect(readFileSync(join(dir, 'lab.mmd'), 'utf8')).toMatch(/^flowchart TB\n[\s\S]*guest_guestA ---\|"192.168.7.1\/24/)
  })

  test('an unknown project names the ones there are', async () => {
    await expect(graphCommand({ format: 'mermaid', project: 'nope' }, dir)).rejects.toThrow('no project named "nope" with a lab')
  })
})
