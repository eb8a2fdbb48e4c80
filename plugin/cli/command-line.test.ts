import { describe, expect, test } from 'vitest'
import { commandHelp, parseCommandLine, synopsis, UsageError } from './command-line.js'
import { commands } from './commands.js'

const spec = (name: string) => commands.find((command) => command.spec.name === name)!.spec

describe('options', () => {
  test('both spellings, defaults, and booleans', () => {
    expect(parseCommandLine(spec('up'), []).values).toEqual({ config: undefined, project: undefined })
    expect(parseCommandLine(spec('up'), ['--config', 'lab/vitest.config.ts', '--project=seed']).values).toEqual({ config: 'lab/vitest.config.ts', project: 'seed' })
    expect(parseCommandLine(spec('graph'), []).values.format).toBe('mermaid')
    expect(parseCommandLine(spec('doctor'), ['--json']).values.json).toBe(true)
    expect(parseCommandLine(spec('image build'), []).values.arch).toBe('x86_64')
  })

  test('an unknown option is named with the valid ones', () => {
    expect(() => parseCommandLine(spec('graph'), ['--verbose'])).toThrow('graph: unknown option --verbose; valid options: --config, --project, --format, --out, --help')
    expect(() => parseCommandLine(spec('cleanup'), ['-x'])).toThrow('cleanup: unknown option -x; valid options: --snapshots, --help')
  })

  test('an option without its value, a value out of its choices, a value given to a flag', () => {
    expect(() => parseCommandLine(spec('up'), ['--config'])).toThrow('up: --config needs a value')
    expect(() => parseCommandLine(spec('up'), ['--config', '--project', 'x'])).toThrow('up: --config needs a value')
    expect(() => parseCommandLine(spec('graph'), ['--format', 'png'])).toThrow('graph: --format must be mermaid or svg, got "png"')
    expect(() => parseCommandLine(spec('doctor'), ['--json=yes'])).toThrow('doctor: --json takes no value')
  })

  test('every command has --help, and its help lists every option', () => {
    for (const { spec: each } of commands) {
      expect(parseCommandLine(each, ['--help']).help).toBe(true)
      for (const name of Object.keys(each.options)) expect(commandHelp(each)).toContain(`--${name}`)
    }
    expect(synopsis(spec('ssh'))).toBe('ssh GUEST [--run ID] [-- COMMAND]')
  })
})

describe('positionals and the rest', () => {
  test('console: a guest and an optional run id', () => {
    expect(parseCommandLine(spec('console'), ['guestA'])).toMatchObject({ positionals: ['guestA'], values: { run: undefined } })
    expect(parseCommandLine(spec('console'), ['--run', '1a2b3c4d', 'guestA'])).toMatchObject({ positionals: ['guestA'], values: { run: '1a2b3c4d' } })
    expect(() => parseCommandLine(spec('console'), [])).toThrow('name the guest')
    expect(() => parseCommandLine(spec('console'), ['guestA', 'guestB'])).toThrow('unexpected argument "guestB"')
    expect(() => parseCommandLine(spec('console'), ['guestA', '--', 'ls'])).toThrow(UsageError)
  })

  test('ssh: the command after -- or after the guest, kept verbatim, dashes included', () => {
    expect(parseCommandLine(spec('ssh'), ['guestA']).rest).toBeUndefined()
    expect(parseCommandLine(spec('ssh'), ['guestA', '--', 'uname', '-a']).rest).toEqual(['uname', '-a'])
    expect(parseCommandLine(spec('ssh'), ['guestA', '--run=ab12', '--', 'ls', '--all'])).toMatchObject({ values: { run: 'ab12' }, rest: ['ls', '--all'] })
    expect(parseCommandLine(spec('ssh'), ['--run', 'ab12', 'guestA', 'ls', '--all'])).toMatchObject({ positionals: ['guestA'], rest: ['ls', '--all'] })
  })

  test('ssh: errors name what is missing', () => {
    expect(() => parseCommandLine(spec('ssh'), ['--', 'ls'])).toThrow('name the guest')
    expect(() => parseCommandLine(spec('ssh'), ['guestA', '--'])).toThrow('no command after --')
    expect(() => parseCommandLine(spec('ssh'), ['--verbose', 'guestA'])).toThrow('unknown option --verbose')
  })
})
