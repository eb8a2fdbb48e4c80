import { describe, expect, test } from 'vitest'
import { parseAttachArgs, parseUpArgs, UsageError } from './cli-args.js'

describe('parseUpArgs', () => {
  test('takes --config and --project, in both spellings', () => {
    expect(parseUpArgs([])).toEqual({})
    expect(parseUpArgs(['--config', 'lab/vitest.config.ts', '--project=seed'])).toEqual({ config: 'lab/vitest.config.ts', project: 'seed' })
  })

  test('rejects anything else, and an option without its value', () => {
    expect(() => parseUpArgs(['guestA'])).toThrow(UsageError)
    expect(() => parseUpArgs(['--config'])).toThrow('--config needs a value')
    expect(() => parseUpArgs(['--config', '--project', 'x'])).toThrow('--config needs a value')
  })
})

describe('parseAttachArgs', () => {
  test('console: a guest and an optional run id', () => {
    expect(parseAttachArgs('console', ['guestA'])).toEqual({ guest: 'guestA', run: undefined })
    expect(parseAttachArgs('console', ['--run', '1a2b3c4d', 'guestA'])).toEqual({ guest: 'guestA', run: '1a2b3c4d' })
    expect(() => parseAttachArgs('console', [])).toThrow('name the guest')
    expect(() => parseAttachArgs('console', ['guestA', 'guestB'])).toThrow('unexpected argument "guestB"')
    expect(() => parseAttachArgs('console', ['guestA', '--', 'ls'])).toThrow(UsageError)
  })

  test('ssh: the command after -- or after the guest, words joined as OpenSSH does', () => {
    expect(parseAttachArgs('ssh', ['guestA'])).toEqual({ guest: 'guestA', run: undefined })
    expect(parseAttachArgs('ssh', ['guestA', '--', 'uname', '-a'])).toEqual({ guest: 'guestA', run: undefined, command: 'uname -a' })
    expect(parseAttachArgs('ssh', ['guestA', '--run=ab12', '--', 'ls', '--all'])).toEqual({ guest: 'guestA', run: 'ab12', command: 'ls --all' })
    expect(parseAttachArgs('ssh', ['guestA', 'cat', '/etc/hostname'])).toEqual({ guest: 'guestA', run: undefined, command: 'cat /etc/hostname' })
  })

  test('ssh: errors name what is missing', () => {
    expect(() => parseAttachArgs('ssh', ['--', 'ls'])).toThrow('name the guest before the command')
    expect(() => parseAttachArgs('ssh', ['guestA', '--'])).toThrow('no command after --')
    expect(() => parseAttachArgs('ssh', ['--verbose', 'guestA'])).toThrow('unexpected argument "--verbose"')
  })
})
