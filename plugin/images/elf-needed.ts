import { readFileSync } from 'node:fs'

// The shared libraries an ELF binary needs (its DT_NEEDED entries), read from the file
// itself, for any architecture: an image copies exactly the libraries its programs use.

export interface ElfLinking {
  /** DT_NEEDED: the sonames the binary asks for. */
  needed: string[]
  /** PT_INTERP: the dynamic loader's path, for a dynamically linked program. */
  interpreter?: string
}

export function neededLibraries(path: string): string[] {
  return elfLinking(path).needed
}

export function elfLinking(path: string): ElfLinking {
  const file = readFileSync(path)
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) return { needed: [] }
  const is64 = file[4] === 2
  const little = file[5] === 1
  const u16 = (at: number) => (little ? file.readUInt16LE(at) : file.readUInt16BE(at))
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at))
  const word = (at: number) => (is64 ? Number(little ? file.readBigUInt64LE(at) : file.readBigUInt64BE(at)) : u32(at))
  const phoff = is64 ? word(0x20) : u32(0x1c)
  const phentsize = u16(is64 ? 0x36 : 0x2a)
  const phnum = u16(is64 ? 0x38 : 0x2c)
  const segments: { type: number; offset: number; vaddr: number; filesz: number }[] = []
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * phentsize
    segments.push(
      is64
        ? { type: u32(at), offset: word(at + 8), vaddr: word(at + 16), filesz: word(at + 32) }
        : { type: u32(at), offset: u32(at + 4), vaddr: u32(at + 8), filesz: u32(at + 16) },
    )
  }
  const interp = segments.find((segment) => segment.type === 3)
  const interpreter = interp ? file.toString('latin1', interp.offset, file.indexOf(0, interp.offset)) : undefined
  const dynamic = segments.find((segment) => segment.type === 2)
  if (!dynamic) return { needed: [], interpreter }
  const entrySize = is64 ? 16 : 8
  const needed: number[] = []
  let strtab: number | undefined
  for (let at = dynamic.offset; at < dynamic.offset + dynamic.filesz; at += entrySize) {
    const tag = word(at)
    const value = word(at + entrySize / 2)
    if (tag === 0) break
    if (tag === 1) needed.push(value)
    if (tag === 5) strtab = value
  }
  if (strtab === undefined) return { needed: [], interpreter }
  // DT_STRTAB is an address; the loadable segment holding it gives its place in the file.
  const load = segments.find((segment) => segment.type === 1 && strtab! >= segment.vaddr && strtab! < segment.vaddr + segment.filesz)
  if (!load) return { needed: [], interpreter }
  const base = strtab - load.vaddr + load.offset
  return {
    needed: needed.map((offset) => {
      const start = base + offset
      return file.toString('latin1', start, file.indexOf(0, start))
    }),
    interpreter,
  }
}
