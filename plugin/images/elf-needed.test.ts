import { expect, test } from 'vitest'
import { elfLinking } from './elf-needed.js'

test("reads a program's DT_NEEDED libraries and its loader; a static program or a script has none", () => {
  const ls = elfLinking('/bin/ls')
  expect(ls.needed).toContain('libc.so.6')
  expect(ls.interpreter).toMatch(/^\/lib.*\/ld-linux.*\.so\.\d$/)
  // Debian's ldconfig is linked statically.
  expect(elfLinking('/sbin/ldconfig')).toEqual({ needed: [], interpreter: undefined })
  expect(elfLinking(new URL('../../scripts/setup.sh', import.meta.url).pathname)).toEqual({ needed: [] })
})
