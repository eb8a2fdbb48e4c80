import { expect, test } from 'vitest'
import { parseAptSources, sourcesForRelease } from './apt-sources.js'

const deb822 = `Types: deb
# a comment
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
`

test('deb822 sources: deb entries only, with their keyring', () => {
  expect(parseAptSources(deb822, 'sources')).toEqual([
    { uris: ['http://deb.debian.org/debian'], suites: ['bookworm', 'bookworm-updates'], components: ['main'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
    { uris: ['http://deb.debian.org/debian-security'], suites: ['bookworm-security'], components: ['main'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' },
    { uris: ['https://deb.nodesource.com/node_20.x'], suites: ['nodistro'], components: ['main'] },
  ])
})

test('one-line sources, with options and comments', () => {
  const list = `# mirror\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\ndeb-src http://mirror.example/debian bookworm main\ndeb http://security.debian.org/debian-security bookworm-security main # security\n`
  expect(parseAptSources(list, 'list')).toEqual([
    { uris: ['http://mirror.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], signedBy: '/k.gpg' },
    { uris: ['http://security.debian.org/debian-security'], suites: ['bookworm-security'], components: ['main'] },
  ])
})

test('the Debian sources move to the release asked for; the others are left out', () => {
  expect(sourcesForRelease(parseAptSources(deb822, 'sources'), 'trixie')).toBe(
    `Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`,
  )
  expect(sourcesForRelease(parseAptSources(deb822, 'sources'), 'bookworm')).toContain('Suites: bookworm bookworm-updates\n')
})

test('no Debian source, no sources', () => {
  expect(sourcesForRelease([{ uris: ['http://archive.ubuntu.com/ubuntu'], suites: ['noble'], components: ['main'] }], 'trixie')).toBeUndefined()
})
