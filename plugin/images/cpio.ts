// A writer for the kernel's initramfs format (cpio "newc"). Written here rather than
// shelling out to cpio(1) so that owners are always root and device nodes such as
// /dev/console can be added without privileges.

export type CpioEntry =
  | { type: 'file'; path: string; data: Uint8Array | string; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number }

const S_IFREG = 0o100000
const S_IFDIR = 0o040000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0')
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4
}

export function writeCpio(entries: CpioEntry[]): Buffer {
  const chunks: Buffer[] = []
  let inode = 1
  const push = (name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]) => {
    const nameBytes = Buffer.from(`${name}\0`)
    const header =
      '070701' +
      [inode++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('')
    chunks.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)), data, Buffer.alloc(pad4(data.length)))
  }
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '')
    if (path === '' || path.split('/').includes('..')) throw new Error(`cpio: invalid path ${JSON.stringify(entry.path)}`)
    switch (entry.type) {
      case 'file':
        push(path, S_IFREG | (entry.mode ?? 0o644), Buffer.from(entry.data))
        break
      case 'dir':
        push(path, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0))
        break
      case 'symlink':
        push(path, S_IFLNK | 0o777, Buffer.from(entry.target))
        break
      case 'chardev':
        push(path, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), [entry.major, entry.minor])
        break
    }
  }
  push('TRAILER!!!', 0, Buffer.alloc(0))
  return Buffer.concat(chunks)
}
