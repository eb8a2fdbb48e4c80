// The uncompressed kernel inside an x86 bzImage, for QEMU's PVH boot: QEMU loads the
// ELF straight into guest memory and jumps to its PVH entry, skipping the firmware's
// Linux loader and the kernel decompressing itself (under TCG, a fifth of a boot).

/** Magic of the LZ4 legacy format, the one a bzImage built with CONFIG_KERNEL_LZ4 carries. */
const LZ4_LEGACY_MAGIC = 0x184c2102

/**
 * The ELF kernel of `bzImage` when it can be booted through PVH: an LZ4 payload (other
 * compressions are left alone) holding an ELF with a PVH entry note. Otherwise undefined.
 */
export function pvhKernelOf(bzImage: Buffer): Buffer | undefined {
  if (bzImage.length < 0x250 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined
  const setupSectors = bzImage[0x1f1] || 4
  const payloadOffset = bzImage.readUInt32LE(0x248)
  const payloadLength = bzImage.readUInt32LE(0x24c)
  const start = (setupSectors + 1) * 512 + payloadOffset
  if (payloadLength < 4 || start + payloadLength > bzImage.length) return undefined
  const payload = bzImage.subarray(start, start + payloadLength)
  if (payload.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) return undefined
  const elf = lz4LegacyDecompress(payload)
  return hasPvhEntry(elf) ? elf : undefined
}

/** Decompresses the LZ4 legacy format: the magic, then blocks of (LE32 size, LZ4 block) of up to 8 MiB each. */
export function lz4LegacyDecompress(input: Buffer): Buffer {
  if (input.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) throw new Error('not LZ4 legacy data')
  const blocks: Buffer[] = []
  let at = 4
  // The kernel's payload may carry the decompressed size after the last block (4 bytes), or nothing.
  while (at + 4 < input.length) {
    const size = input.readUInt32LE(at)
    at += 4
    if (size === LZ4_LEGACY_MAGIC) continue
    if (size === 0 || at + size > input.length) break
    blocks.push(lz4BlockDecompress(input.subarray(at, at + size), 8 << 20))
    at += size
  }
  return Buffer.concat(blocks)
}

function lz4BlockDecompress(block: Buffer, maxOutput: number): Buffer {
  const out = Buffer.allocUnsafe(maxOutput)
  let ip = 0
  let op = 0
  const length = (base: number) => {
    let value = base
    if (base === 15) {
      let byte: number
      do {
        byte = block[ip++]!
        value += byte
      } while (byte === 255 && ip < block.length)
    }
    return value
  }
  while (ip < block.length) {
    const token = block[ip++]!
    const literals = length(token >> 4)
    if (ip + literals > block.length || op + literals > maxOutput) throw new Error('LZ4 block: literals run past the end')
    block.copy(out, op, ip, ip + literals)
    ip += literals
    op += literals
    if (ip >= block.length) break // the last sequence has literals only
    const offset = block[ip]! | (block[ip + 1]! << 8)
    ip += 2
    const match = length(token & 15) + 4
    if (offset === 0 || offset > op || op + match > maxOutput) throw new Error('LZ4 block: a match points outside the output')
    // Byte by byte: a match may overlap what it copies (a run).
    for (let from = op - offset, end = op + match; op < end; ) out[op++] = out[from++]!
  }
  return out.subarray(0, op)
}

/** Whether a 64-bit little-endian ELF has the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) QEMU boots from. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const phentsize = elf.readUInt16LE(0x36)
  const phnum = elf.readUInt16LE(0x38)
  for (let index = 0; index < phnum; index++) {
    const header = phoff + index * phentsize
    if (header + 56 > elf.length || elf.readUInt32LE(header) !== 4 /* PT_NOTE */) continue
    const offset = Number(elf.readBigUInt64LE(header + 8))
    const end = Math.min(elf.length, offset + Number(elf.readBigUInt64LE(header + 32)))
    for (let at = offset; at + 12 <= end; ) {
      const nameSize = elf.readUInt32LE(at)
      const descSize = elf.readUInt32LE(at + 4)
      const type = elf.readUInt32LE(at + 8)
      const name = elf.toString('latin1', at + 12, at + 12 + nameSize).replace(/\0+$/, '')
      if (name === 'Xen' && type === 18) return true
      at += 12 + align4(nameSize) + align4(descSize)
    }
  }
  return false
}

const align4 = (value: number) => (value + 3) & ~3
