import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { graphCommand, parseGraphArgs } from './graph-command.js'

describe('parseGraphArgs', () => {
  test('defaults to Mermaid on stdout; takes config, project, format and out', () => {
    expect(parseGraphArgs([])).toEqual({ format: 'mermaid' })
    expect(parseGraphArgs(['--config', 'a.ts', '--project', 'router', '--format', 'svg', '--out', 'lab.svg'])).toEqual({ config: 'a.ts', project: 'router', format: 'svg', out: 'lab.svg' })
  })

  test('refuses what it does not know, and flags without a value', () => {
    expect(() => parseGraphArgs(['--format', 'png'])).toThrow('--format must be mermaid or svg, got "png"')
    expect(() => parseGraphArgs(['--verbose'])).toThrow('unknown argument "--verbose"')
    expect(() => parseGraphArgs(['--out'])).toThrow('--out needs a value')
    expect(() => parseGraphArgs(['--project', '--out', 'x'])).toThrow('--project needs a value')
  })
})

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
    expect(await graphCommand(['--format', 'svg', '--out', 'lab.svg'], dir)).toBe(0)
    expect(readFileSync(join(dir, 'lab.svg'), 'utf8')).toContain('>br0: 192.168.7.1/24')
    expect(await graphCommand(['--out', 'lab.mmd'], dir)).toBe(0)
    expect(readFileSync(join(dir, 'lab.mmd'), 'utf8')).toMatch(/^flowchart TB\n[\s\S]*guest_guestA ---\|"192.168.7.1\/24/)
  })

  test('an unknown project names the ones there are', async () => {
    await expect(graphCommand(['--project', 'nope'], dir)).rejects.toThrow('no project named "nope" with a lab')
  })
})
