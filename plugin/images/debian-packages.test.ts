import { expect, test } from 'vitest'
import { dependencyGroups } from './debian-packages.js'

test("apt-cache depends output: one group per dependency, alternatives and a virtual package's providers together", () => {
  const output = [
    'lighttpd',
    '  PreDepends: init-system-helpers',
    '  Depends: libc6',
    ' |Depends: media-types',
    '  Depends: mime-support',
    ' |Depends: systemd-sysv',
    '  Depends: lsb-base',
    '    sysvinit-utils',
    '  Depends: <perl:any>',
    '    perl',
    '    perl-base',
    '  Conflicts: <lighttpd-mod-geoip>',
    '  Recommends: spawn-fcgi',
    'curl',
    '  Depends: libcurl4',
  ].join('\n')
  expect(dependencyGroups(output)).toEqual([
    ['init-system-helpers'],
    ['libc6'],
    ['media-types', 'mime-support'],
    ['systemd-sysv', 'lsb-base', 'sysvinit-utils'],
    ['perl', 'perl-base'],
    ['libcurl4'],
  ])
})
