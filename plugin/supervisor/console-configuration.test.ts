import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import type { GuestPlan } from '../config/lab-plan.js'
import { fileSteps, networkSteps, serviceReadyCommand, serviceStartCommand, setupSteps } from './console-configuration.js'

const nic = (ip: string, prefix = 24, index = 0) => ({ bridge: `lan${index}`, ip, prefix, netmask: '255.255.255.0', mac: '52:54:00:00:00:01', tap: `vqtap${index}` })

describe('console configuration of own images', () => {
  test('the NICs after the first, routes and forwarding, with ifconfig and route where there is no ip', () => {
    const guest = { nics: [nic('10.1.0.1'), nic('10.2.0.1', 24, 1)], routes: [{ to: '10.3.0.0/16', via: '10.2.0.9' }], forwarding: true } as unknown as GuestPlan
    const steps = networkSteps(guest)
    expect(steps.map((step) => step.what)).toEqual(['address 10.2.0.1/24 on eth1', 'route to 10.3.0.0/16 via 10.2.0.9', 'IPv4 forwarding'])
    expect(steps[0]!.command).toContain('ip addr add 10.2.0.1/24 dev eth1 && ip link set eth1 up; else ifconfig eth1 10.2.0.1 netmask 255.255.255.0 up')
    expect(steps[1]!.command).toContain('else route add -net 10.3.0.0 netmask 255.255.0.0 gw 10.2.0.9')
  })

  test('files of any bytes, in pieces, come out whole when the steps run in a shell', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vq-console-files-'))
    const binary = Buffer.from(Array.from({ length: 10_000 }, (_, n) => (n * 7) % 256))
    writeFileSync(join(dir, 'blob'), binary)
    const steps = fileSteps({ [`${dir}/out/text`]: "it's\nquoted $HOME `x`\n", [`${dir}/out/blob`]: { source: join(dir, 'blob'), mode: 0o600 } })
    // 10 000 bytes in 3 KiB pieces: a header, 4 pieces and a chmod; the text: header, 1 piece, chmod.
    expect(steps).toHaveLength(6 + 3)
    for (const step of steps) execFileSync('sh', ['-c', step.command])
    expect(readFileSync(join(dir, 'out/blob')).equals(binary)).toBe(true)
    expect(readFileSync(join(dir, 'out/text'), 'utf8')).toBe("it's\nquoted $HOME `x`\n")
    expect(execFileSync('stat', ['-c', '%a', join(dir, 'out/blob')], { encoding: 'utf8' })).toBe('600\n')
  })

  test('setup commands run in a subshell: an exit ends only the command, with its status', () => {
    const [step] = setupSteps(['echo ran; exit 3'])
    expect(step!.setup).toEqual({ index: 1, command: 'echo ran; exit 3' })
    const run = () => execFileSync('sh', ['-c', `${step!.command}; echo "after $?"`], { encoding: 'utf8' })
    expect(run()).toBe('ran\nafter 3\n')
  })

  test('services: started in the background with their log; ready by port (hex, as /proc/net/tcp writes it) or by command', () => {
    expect(serviceStartCommand({ name: 'web', command: "httpd -p 80 -h '/www'" })).toMatch(/^mkdir -p \/var\/log\/vitest-qemu && .*exec sh -c 'httpd -p 80 -h '\\''\/www'\\''' \) <\/dev\/null >\/var\/log\/vitest-qemu\/web\.log 2>&1; rc=\$\?;.*&$/s)
    expect(serviceReadyCommand({ name: 'web', command: 'x', ready: { port: 8080 } })).toContain(':1F90 [0-9A-F]+:0000 0A ')
    expect(serviceReadyCommand({ name: 'db', command: 'x', ready: { command: 'test -S /run/db.sock' } })).toContain('test -S /run/db.sock')
    expect(serviceReadyCommand({ name: 'plain', command: 'x' })).toBeUndefined()
  })
})
