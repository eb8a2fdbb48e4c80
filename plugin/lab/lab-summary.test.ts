import { expect, test } from 'vitest'
import type { GuestDescriptor, LabDescriptor } from '../protocol/lab-descriptor.js'
import { attachHints, formatGuestTable } from './lab-summary.js'

function guest(name: string, nics: [string, string, string][], ssh = true): GuestDescriptor {
  return {
    name,
    arch: 'x86_64',
    ip: nics[0]![1],
    mac: nics[0]![2],
    nics: nics.map(([bridge, ip, mac], index) => ({ bridge, ip, prefix: 24, mac, tap: `tap${index}` })),
    transcript: `/logs/${name}.console.log`,
    forwardSocket: `/run/x/${name}/forward.sock`,
    consoleSocket: `/run/x/${name}/console.sock`,
    agent: true,
    services: [],
    ssh: ssh ? { user: 'root', privateKeyPath: '/run/x/id_ed25519', port: 22 } : false,
    qemuPid: 1,
    bootStages: {},
  }
}

const lab: LabDescriptor = {
  runId: '1a2b3c4d',
  runDir: '/run/vitest-qemu/1a2b3c4d',
  logDir: '/project/.vitest-qemu/runs/1a2b3c4d',
  controlSocket: '/run/vitest-qemu/1a2b3c4d/control.sock',
  network: 'namespace',
  supervisorPid: 1,
  bridges: [],
  captures: [],
  guests: [
    guest('router', [['lan1', '10.1.0.1', '52:54:00:00:00:01'], ['lan2', '10.2.0.1', '52:54:00:00:00:02']]),
    guest('board', [['lan1', '10.1.0.10', '52:54:00:00:00:03']], false),
  ],
}

test('the guest table has one line per NIC, columns aligned', () => {
  expect(formatGuestTable(lab)).toBe(
    [
      'GUEST   ARCH    BRIDGE  ADDRESS       MAC                SSH',
      'router  x86_64  lan1    10.1.0.1/24   52:54:00:00:00:01  yes',
      '                lan2    10.2.0.1/24   52:54:00:00:00:02',
      'board   x86_64  lan1    10.1.0.10/24  52:54:00:00:00:03  no',
    ].join('\n'),
  )
})

test('the hints name a guest, the detach key, and ssh only for a guest that has it', () => {
  const hints = attachHints(lab)
  expect(hints).toContain('npx vitest-qemu console router ')
  expect(hints).toContain('Ctrl-] detaches')
  expect(hints).toContain('npx vitest-qemu ssh router ')
  expect(hints).toContain('npx vitest-qemu ssh router -- uname -a')
  const serialOnly = attachHints({ ...lab, guests: [lab.guests[1]!] })
  expect(serialOnly).toContain('console board')
  expect(serialOnly).not.toContain(' ssh ')
})

test('the hints carry a non-default runtime folder and the run id when they are needed', () => {
  const hints = attachHints(lab, { env: 'VITEST_QEMU_RUNTIME_DIR=/tmp/rt', withRunId: true })
  expect(hints).toContain('VITEST_QEMU_RUNTIME_DIR=/tmp/rt npx vitest-qemu console router --run 1a2b3c4d')
})
