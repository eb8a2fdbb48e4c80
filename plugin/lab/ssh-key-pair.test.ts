import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { describe, expect, test } from 'vitest'
import { newEd25519KeyPair } from './ssh-key-pair.js'

describe('newEd25519KeyPair', () => {
  test('ssh2 reads the private key, and its public half is the public key given', () => {
    const pair = newEd25519KeyPair()
    const parsed = ssh2.utils.parseKey(pair.private)
    if (parsed instanceof Error) throw parsed
    const key = Array.isArray(parsed) ? parsed[0]! : parsed
    expect(key.type).toBe('ssh-ed25519')
    expect(key.getPublicSSH().toString('base64')).toBe(pair.public.split(' ')[1])
    // It signs, and the signature checks out against the public key.
    const data = Buffer.from('vitest-qemu')
    const signature = key.sign(data)
    if (signature instanceof Error) throw signature
    const publicKey = ssh2.utils.parseKey(pair.public)
    if (publicKey instanceof Error) throw publicKey
    expect((Array.isArray(publicKey) ? publicKey[0]! : publicKey).verify(data, signature)).toBe(true)
  })

  test.skipIf(!hasSshKeygen())('ssh-keygen derives the same public key from the private key file', () => {
    const pair = newEd25519KeyPair('me')
    const dir = mkdtempSync(join(tmpdir(), 'vq-key-'))
    try {
      writeFileSync(join(dir, 'id'), pair.private, { mode: 0o600 })
      expect(execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'id')], { encoding: 'utf8' }).trim().split(' ').slice(0, 2)).toEqual(pair.public.split(' ').slice(0, 2))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('every pair is new', () => {
    expect(newEd25519KeyPair().public).not.toBe(newEd25519KeyPair().public)
  })
})

function hasSshKeygen(): boolean {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' })
    return true
  } catch (error) {
    return (error as { code?: string }).code !== 'ENOENT'
  }
}
