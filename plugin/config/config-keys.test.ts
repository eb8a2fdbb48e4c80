import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { expect, test } from 'vitest'
import type { LabConfig } from './config.js'
import { LabConfigError } from './config-error.js'
import { configKeyProblems, knownKeys, nearestKey } from './config-keys.js'
import { planLab } from './lab-plan.js'

const seed = () => ({
  bridges: { br0: { subnet: '192.168.7.0/24' } },
  guests: { guestA: { bridge: 'br0', ip: '192.168.7.1' } as Record<string, unknown> },
}) as LabConfig & Record<string, unknown>

function problemsOf(config: unknown): string[] {
  try {
    planLab(config as LabConfig, { root: '/project', fileExists: () => true })
  } catch (error) {
    if (error instanceof LabConfigError) return error.problems
    throw error
  }
  return []
}

test('the known keys are exactly the fields of config.ts, level by level', () => {
  const source = ts.createSourceFile('config.ts', readFileSync(join(import.meta.dirname, 'config.ts'), 'utf8'), ts.ScriptTarget.Latest)
  const inCode: Record<string, string[]> = {}
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement)) inCode[statement.name.text] = statement.members.filter(ts.isPropertySignature).map((member) => member.name.getText(source)).sort()
  }
  expect(Object.fromEntries(Object.entries(knownKeys).map(([name, keys]) => [name, [...keys].sort()]))).toEqual(inCode)
})

test.each([
  ['lab', (config: ReturnType<typeof seed>) => (config.bridgs = {}), "bridgs: unknown key; did you mean 'bridges'?"],
  ['lab', (config: ReturnType<typeof seed>) => (config.timeoutMultipler = 2), "timeoutMultipler: unknown key; did you mean 'timeoutMultiplier'?"],
  ['bridge', (config: ReturnType<typeof seed>) => ((config.bridges.br0 as unknown as Record<string, unknown>).adress = '192.168.7.9'), "bridges.br0.adress: unknown key; did you mean 'address'?"],
  ['guest', (config: ReturnType<typeof seed>) => (config.guests.guestA!.gatway = '192.168.7.254'), "guests.guestA.gatway: unknown key; did you mean 'gateway'?"],
  ['guest', (config: ReturnType<typeof seed>) => (config.guests.guestA!.memroy = 256), "guests.guestA.memroy: unknown key; did you mean 'memory'?"],
  ['NIC', (config: ReturnType<typeof seed>) => (config.guests.guestA = { nics: [{ bridge: 'br0', ip: '192.168.7.1', mca: '52:54:00:00:00:01' }] }), "guests.guestA.nics[0].mca: unknown key; did you mean 'mac'?"],
  ['ssh', (config: ReturnType<typeof seed>) => (config.guests.guestA!.ssh = { user: 'root', privatekey: '/k' }), "guests.guestA.ssh.privatekey: unknown key; did you mean 'privateKey'?"],
  ['login', (config: ReturnType<typeof seed>) => (config.guests.guestA!.login = { user: 'root', pasword: 'x' }), "guests.guestA.login.pasword: unknown key; did you mean 'password'?"],
  ['routes entry', (config: ReturnType<typeof seed>) => (config.guests.guestA!.routes = [{ to: '10.0.0.0/8', vai: '192.168.7.254' }]), "guests.guestA.routes[0].vai: unknown key; did you mean 'via'?"],
])('an unknown key of a %s is an error naming its path and the nearest known key', (_, change, message) => {
  const config = seed()
  change(config)
  expect(problemsOf(config)).toContainEqual(expect.stringContaining(message))
})

test('a key near nothing known lists the keys there are', () => {
  const config = seed()
  config.guests.guestA!.wibble = true
  expect(problemsOf(config)).toContainEqual(expect.stringMatching(/^guests\.guestA\.wibble: unknown key \(known here: bridge, ip, ip6, mac, mtu, netem, vlan, nics, gateway, /))
})

test.each([
  ...(['trunk'] as const).map(
    (key) => [`guests.guestA.${key}`, (config: ReturnType<typeof seed>) => (config.guests.guestA![key] = 1)] as const,
  ),
  ...(['trunk'] as const).map(
    (key) => [`guests.guestA.nics[0].${key}`, (config: ReturnType<typeof seed>) => (config.guests.guestA = { nics: [{ bridge: 'br0', ip: '192.168.7.1', [key]: 1 }] })] as const,
  ),
])('%s is not supported yet, and says so', (path, change) => {
  const config = seed()
  change(config)
  expect(problemsOf(config)).toContainEqual(expect.stringMatching(new RegExp(`^${path.replace(/[.[\]]/g, '\\$&')}: not supported yet \\(.+\\); remove it$`)))
})

test('every problem is told at once, before anything else is checked only when the shape is broken', () => {
  const config = seed()
  config.guests.guestA!.gatway = 'x'
  ;(config.bridges.br0 as unknown as Record<string, unknown>).subnet = 'nonsense'
  const problems = problemsOf(config)
  expect(problems).toContainEqual(expect.stringContaining('guests.guestA.gatway: unknown key'))
  expect(problems).toContainEqual(expect.stringContaining('bridges.br0.subnet: expected a CIDR'))
  expect(problemsOf({ bridges: {}, guests: { guestA: null } })).toEqual(['guests.guestA: expected an object, got null'])
  expect(problemsOf({ bridges: [], guests: {} })).toEqual(['bridges: expected an object of named entries, got a list'])
  expect(problemsOf({ ...seed(), guests: { guestA: { nics: { bridge: 'br0' } } } })).toEqual(['guests.guestA.nics: expected a list, got object'])
})

test('ssh: false and keys whose value is undefined are fine; inherited names are not keys', () => {
  const config = seed()
  config.guests.guestA!.ssh = false
  config.guests.guestA!.mac = undefined
  expect(problemsOf(config)).toEqual([])
  expect(configKeyProblems({ ...seed(), toString: 1 }).problems).toEqual([expect.stringMatching(/^toString: unknown key/)])
})

test('a NIC without an ip is a field error, not a TypeError', () => {
  expect(problemsOf({ ...seed(), guests: { guestA: { nics: [{ bridge: 'br0' }] } } })).toEqual(['guests.guestA.nics[0].ip: required: an IPv4 address like 192.168.7.1 (or a CIDR), got none'])
  expect(problemsOf({ ...seed(), guests: { guestA: { bridge: 'br0' } } })).toEqual(['guests.guestA.ip: required: an IPv4 address like 192.168.7.1 (or a CIDR), got none'])
  expect(problemsOf({ ...seed(), guests: { guestA: { nics: [{ bridge: 'br0', ip: 7 }] } } })).toEqual(['guests.guestA.nics[0].ip: required: an IPv4 address like 192.168.7.1 (or a CIDR), got 7'])
})

test('the nearest key: within a few edits, case aside; nothing when far', () => {
  expect(nearestKey('gatway', ['gateway', 'routes'])).toBe('gateway')
  expect(nearestKey('QemuArgs', ['qemuArgs'])).toBe('qemuArgs')
  expect(nearestKey('xyz', ['gateway', 'routes'])).toBeUndefined()
})
