import { generateKeyPairSync, randomBytes } from 'node:crypto'

// An ed25519 key pair in OpenSSH's formats (the private key as `ssh-keygen` writes it, the
// public one as authorized_keys wants it), made with node:crypto: ssh2 would do the same
// but its load time would come before every lab's first guest starts.

export interface SshKeyPair {
  private: string
  public: string
}

export function newEd25519KeyPair(comment = 'vitest-qemu'): SshKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url')
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')
  return { private: openSshPrivateKey(seed, raw, comment), public: `ssh-ed25519 ${publicBlob(raw).toString('base64')} ${comment}` }
}

/** SSH's wire string: a 32-bit big-endian length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  const length = Buffer.alloc(4)
  length.writeUInt32BE(bytes.length)
  return Buffer.concat([length, bytes])
}

function publicBlob(raw: Buffer): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(raw)])
}

/** The unencrypted openssh-key-v1 format (PROTOCOL.key in OpenSSH's sources). */
function openSshPrivateKey(seed: Buffer, raw: Buffer, comment: string): string {
  const check = randomBytes(4)
  let section = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(raw), sshString(Buffer.concat([seed, raw])), sshString(comment)])
  // Padded with 1, 2, 3, ... to the cipher's block size (8 for none).
  const padding = Buffer.from(Array.from({ length: (8 - (section.length % 8)) % 8 }, (_, index) => index + 1))
  section = Buffer.concat([section, padding])
  const count = Buffer.alloc(4)
  count.writeUInt32BE(1)
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), count, sshString(publicBlob(raw)), sshString(section)])
  const lines = body.toString('base64').match(/.{1,70}/g)!
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}
