import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { acceptRuleArgs, forwardDrops } from '../common/forward-trap.js'
import { allowedBridges } from './host-mode.js'

test("reads qemu-bridge-helper's ACL: allow, deny, allow all, include, comments", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vq-acl-'))
  writeFileSync(join(dir, 'bridge.conf'), '# ACL\nallow br0\ninclude extra.conf\ndeny br9 # no\n')
  writeFileSync(join(dir, 'extra.conf'), 'allow lab1\n')
  const acl = allowedBridges(join(dir, 'bridge.conf'))
  expect([...acl.allowed].sort()).toEqual(['br0', 'lab1'])
  expect([...acl.denied]).toEqual(['br9'])
  expect(acl.allowAll).toBe(false)
  writeFileSync(join(dir, 'all.conf'), 'allow all\n')
  expect(allowedBridges(join(dir, 'all.conf')).allowAll).toBe(true)
  expect(allowedBridges(join(dir, 'missing.conf')).allowed.size).toBe(0)
})

test("recognises a FORWARD chain that drops bridged traffic (Docker's policy)", () => {
  expect(forwardDrops('-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n')).toBe(true)
  expect(forwardDrops('-P FORWARD ACCEPT\n-A FORWARD -i eth0 -j DROP\n')).toBe(true)
  expect(forwardDrops('-P FORWARD ACCEPT\n')).toBe(false)
  expect(acceptRuleArgs('br0', 'ab12')).toEqual(['FORWARD', '-i', 'br0', '-o', 'br0', '-m', 'comment', '--comment', 'vitest-qemu run ab12', '-j', 'ACCEPT'])
})
