import { describe, expect, test } from 'vitest'
import { hasPvhEntry, lz4LegacyDecompress, pvhKernelOf } from './pvh-kernel.js'

// What `lz4 -l -9` made of the text below (literals, a long overlapping run, a match far back).
const sampleText = 'vitest-qemu boots guests. '.repeat(40) + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3)
const sampleLz4 = Buffer.from('AiFMGFEAAAD/C3ZpdGVzdC1xZW11IGJvb3RzIGd1ZXN0cy4gGgD////m/xVhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkkADBQNTY3ODk=', 'base64')

/** A 64-bit ELF whose one PT_NOTE segment holds the given notes. */
function elfWithNotes(notes: { name: string; type: number }[]): Buffer {
  const body = Buffer.concat(
    notes.map(({ name, type }) => {
      const nameBytes = Buffer.alloc((name.length + 1 + 3) & ~3)
      nameBytes.write(name, 'latin1')
      const header = Buffer.alloc(12)
      header.writeUInt32LE(name.length + 1, 0)
      header.writeUInt32LE(4, 4)
      header.writeUInt32LE(type, 8)
      return Buffer.concat([header, nameBytes, Buffer.alloc(4)])
    }),
  )
  const elf = Buffer.alloc(64 + 56)
  elf.writeUInt32BE(0x7f454c46, 0)
  elf[4] = 2
  elf[5] = 1
  elf.writeBigUInt64LE(64n, 0x20)
  elf.writeUInt16LE(56, 0x36)
  elf.writeUInt16LE(1, 0x38)
  elf.writeUInt32LE(4, 64)
  elf.writeBigUInt64LE(120n, 64 + 8)
  elf.writeBigUInt64LE(BigInt(body.length), 64 + 32)
  return Buffer.concat([elf, body])
}

/** A bzImage-shaped buffer: one setup sector, the header fields the payload is found by. */
function bzImageWith(payload: Buffer): Buffer {
  const image = Buffer.alloc(1024 + payload.length)
  image[0x1f1] = 1
  image.write('HdrS', 0x202, 'latin1')
  image.writeUInt32LE(0, 0x248)
  image.writeUInt32LE(payload.length, 0x24c)
  payload.copy(image, 1024)
  return image
}

/** An LZ4 legacy stream of one block of literals only, with the kernel's size trailer. */
function lz4Literals(data: Buffer): Buffer {
  const block = Buffer.concat([Buffer.from([0xf0]), Buffer.from(Array(Math.floor((data.length - 15) / 255)).fill(255)), Buffer.from([(data.length - 15) % 255]), data])
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184c2102, 0)
  header.writeUInt32LE(block.length, 4)
  const trailer = Buffer.alloc(4)
  trailer.writeUInt32LE(data.length, 0)
  return Buffer.concat([header, block, trailer])
}

describe('pvh-kernel', () => {
  test('LZ4 legacy data decompresses to what was compressed', () => {
    expect(lz4LegacyDecompress(sampleLz4).toString('latin1')).toBe(sampleText)
  })

  test('a damaged LZ4 block is refused, not decoded into garbage', () => {
    const damaged = Buffer.from(sampleLz4)
    damaged.writeUInt16LE(0xffff, 36) // the first match's offset, now far before the start of the output
    expect(() => lz4LegacyDecompress(damaged)).toThrow(/outside the output|past the end/)
  })

  test('the PVH entry note is found among other notes, and only a Xen note of type 18 counts', () => {
    expect(hasPvhEntry(elfWithNotes([{ name: 'GNU', type: 3 }, { name: 'Xen', type: 18 }]))).toBe(true)
    expect(hasPvhEntry(elfWithNotes([{ name: 'Xen', type: 6 }, { name: 'GNU', type: 18 }]))).toBe(false)
    expect(hasPvhEntry(Buffer.from('not an ELF file at all, just text long enough to read a header from'))).toBe(false)
  })

  test('a bzImage with an LZ4 payload holding a PVH ELF gives that ELF; other payloads give nothing', () => {
    const elf = elfWithNotes([{ name: 'Xen', type: 18 }])
    expect(pvhKernelOf(bzImageWith(lz4Literals(elf)))).toEqual(elf)
    expect(pvhKernelOf(bzImageWith(lz4Literals(elfWithNotes([{ name: 'Xen', type: 6 }]))))).toBeUndefined()
    const gzipped = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), elf])
    expect(pvhKernelOf(bzImageWith(gzipped))).toBeUndefined()
    expect(pvhKernelOf(Buffer.alloc(4096))).toBeUndefined()
  })
})
