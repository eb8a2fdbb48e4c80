import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { writeFileAtomically } from './write-atomically.js'

const dir = mkdtempSync(join(tmpdir(), 'vq-atomic-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('writes of one file at once from one process all succeed, and one of them is what stays', async () => {
  const path = join(dir, 'memo.json')
  const texts = Array.from({ length: 8 }, (_, index) => `version ${index}`)
  await Promise.all(texts.map((text) => writeFileAtomically(path, text)))
  expect(texts).toContain(readFileSync(path, 'utf8'))
  expect(readdirSync(dir)).toEqual(['memo.json'])
})
